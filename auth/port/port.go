// Package port is the leaf of the auth module: the two store ports,
// [Revocations] and [RefreshStore], the record they keep and the sentinel
// errors their backends return. It imports only the standard library, so
// that a backend (auth/redis, auth/memory, a user's own) implements it
// without importing package auth; package auth aliases every name here,
// and user code should import auth.
package port

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors of the stores, for use with errors.Is.
var (
	// ErrInvalidRefresh is returned by RefreshStore.Rotate for a refresh
	// token that is unknown, expired or of a revoked family.
	ErrInvalidRefresh = errors.New("auth: invalid refresh token")
	// ErrRefreshReused is returned by RefreshStore.Rotate, together with
	// ErrInvalidRefresh, when a refresh token is presented a second time:
	// the store has revoked its whole family.
	ErrRefreshReused = errors.New("auth: refresh token reused; family revoked")
	// ErrStoreFull is returned by a bounded store (auth/memory) that
	// holds its maximum number of entries.
	ErrStoreFull = errors.New("auth: store full")
)

// Revocations remembers revoked access-token IDs, and per subject a
// "not before" (every token and session of the subject issued earlier is
// revoked), until the tokens would be refused anyway. A write is visible
// to the Revoked calls of every instance sharing the backend, and at once
// in the instance that made it. Implementations are safe for concurrent
// use by many goroutines.
type Revocations interface {
	// Revoke records id as revoked until until: the last moment the
	// verifier would accept the token (its exp plus the clock-skew
	// leeway); after that the entry may vanish. An until in the past
	// records nothing and is not an error; revoking twice is not an
	// error. It honours ctx (a done ctx returns ctx.Err()); any other
	// error is a backend failure.
	Revoke(ctx context.Context, id string, until time.Time) error
	// RevokeSubject revokes every token and session of subject issued
	// before before (to the millisecond), remembered until until (after
	// which every such token has expired). Of two calls for one subject
	// the later before wins, whatever their order. An until in the past
	// records nothing. Errors as for Revoke.
	RevokeSubject(ctx context.Context, subject string, before, until time.Time) error
	// Revoked reports whether the token p names is revoked: its ID was
	// revoked, or its subject was revoked after p.IssuedAt. A backend may
	// cache a "not revoked" answer locally up to p.Until, provided a
	// write anywhere reaches that cache. It honours ctx (a done ctx
	// returns ctx.Err(), even for an answer cached locally); any other
	// error is a backend failure, never "not revoked".
	Revoked(ctx context.Context, p RevokedParams) (bool, error)
}

// RevokedParams names what [Revocations.Revoked] checks.
type RevokedParams struct {
	// ID is the token's ID (jti); empty checks the subject only (a
	// refresh-token family, say).
	ID string
	// Subject and IssuedAt are the token's subject and when it (or its
	// session) was issued; an empty Subject checks the ID only.
	Subject  string
	IssuedAt time.Time
	// Until is the last moment the token is accepted (its exp plus the
	// leeway).
	Until time.Time
}

// RefreshRecord is one stored refresh token: never the token itself, only
// the SHA-256 of its secret part.
type RefreshRecord struct {
	// Family groups the tokens that rotate from one Issue.
	Family string
	// Hash is the SHA-256 of the token's secret part (32 bytes).
	Hash []byte
	// Subject is the principal's subject.
	Subject string
	// ExpiresAt ends this token's validity.
	ExpiresAt time.Time
	// Data is what the next access token is issued from (the principal,
	// encoded by auth.JWT); opaque to the store.
	Data []byte
	// AccessID and AccessExpiresAt name the access token issued with this
	// refresh token, revoked when the family is found reused.
	AccessID        string
	AccessExpiresAt time.Time
	// Started is when the family was issued (the login). The store keeps
	// the one given to Create; Rotate ignores next's and returns it.
	Started time.Time
	// Sealed is set only in what Rotate returns for a replay within the
	// grace window: the RotateParams.Sealed of the rotation that spent
	// the token. Opaque to the store.
	Sealed []byte
}

// RotateParams says what [RefreshStore.Rotate] replaces.
type RotateParams struct {
	// Family and Hash name the presented token.
	Family string
	Hash   []byte
	// Next is the token replacing it, of the same family.
	Next RefreshRecord
	// Sealed is kept with the spent token for Grace: what a replay of
	// the token within Grace gets back (auth.JWT seals the new pair with
	// a key only the presenter of the token can derive). Opaque to the
	// store; with Grace 0 or Sealed empty there is no replay.
	Sealed []byte
	Grace  time.Duration
}

// RefreshStore keeps refresh-token families: the tokens that rotate from
// one login, of which one at a time is live. Records vanish once expired.
// Implementations are safe for concurrent use by many goroutines; every
// method honours ctx, and an error that wraps none of the sentinels is a
// backend failure, never a verdict on the token.
type RefreshStore interface {
	// Create stores r, the first token of a new family. It may return
	// ErrStoreFull.
	Create(ctx context.Context, r RefreshRecord) error
	// Lookup returns the record of family whose token has hash, live or
	// spent, with the family's Subject, Data and Started: what the next
	// access token is issued from. It returns an error wrapping
	// ErrInvalidRefresh when no unexpired token of the family has that
	// hash or the family is revoked. It changes nothing.
	Lookup(ctx context.Context, family string, hash []byte) (RefreshRecord, error)
	// Rotate atomically replaces the live token p.Family/p.Hash with
	// p.Next and returns the replaced record, with the family's Subject,
	// Data and Started as given to Create. For a token spent by a
	// rotation with p.Grace and p.Sealed, within that Grace, it returns
	// the record with Sealed set to that rotation's p.Sealed and changes
	// nothing (a replay: two browser tabs refreshing at once). It returns
	// an error wrapping ErrInvalidRefresh when no token of the family has
	// that hash, the token has expired or the family is revoked; and one
	// wrapping ErrRefreshReused (and ErrInvalidRefresh) for a spent token
	// outside the grace, after revoking the family, with the family's
	// latest record so that the caller can revoke its access token. Of
	// concurrent Rotates of one token, exactly one rotates; the others
	// are replays or reuse. It may return ErrStoreFull.
	Rotate(ctx context.Context, p RotateParams) (RefreshRecord, error)
	// RevokeFamily makes every token of family invalid, provided hash is
	// nil or the hash of one of its unexpired tokens (live or spent): a
	// family ID alone, without a token's secret, revokes nothing. An
	// unknown family or a hash that does not match is not an error
	// (nothing happens).
	RevokeFamily(ctx context.Context, family string, hash []byte) error
}
