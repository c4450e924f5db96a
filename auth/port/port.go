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

// Revocations remembers revoked access-token IDs until the tokens would
// be refused anyway. A Revoke is visible to the Revoked calls of every
// instance sharing the backend, and at once in the instance that made
// it. Implementations are safe for concurrent use by many goroutines.
type Revocations interface {
	// Revoke records id as revoked until until: the last moment the
	// verifier would accept the token (its exp plus the clock-skew
	// leeway); after that the entry may vanish. An until in the past
	// records nothing and is not an error; revoking twice is not an
	// error. It honours ctx (a done ctx returns ctx.Err()); any other
	// error is a backend failure.
	Revoke(ctx context.Context, id string, until time.Time) error
	// Revoked reports whether id is revoked. exp is the token's until
	// (as given to Revoke): a backend may cache a "not revoked" answer
	// locally up to then, provided a Revoke anywhere reaches that cache.
	// It honours ctx (a done ctx returns ctx.Err(), even for an answer
	// cached locally); any other error is a backend failure, never
	// "not revoked".
	Revoked(ctx context.Context, id string, exp time.Time) (bool, error)
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
	// Rotate atomically replaces the live token of family whose hash is
	// hash with next (same family) and returns the replaced record, with
	// the family's Subject, Data and Started as given to Create. It
	// returns an error wrapping ErrInvalidRefresh when no token of the
	// family has that hash, the token has expired or the family is
	// revoked; and one wrapping ErrRefreshReused (and ErrInvalidRefresh)
	// when the token was already rotated, after revoking the family, with
	// the family's latest record so that the caller can revoke its access
	// token. Of concurrent Rotates of one token, exactly one succeeds.
	Rotate(ctx context.Context, family string, hash []byte, next RefreshRecord) (RefreshRecord, error)
	// RevokeFamily makes every token of family invalid, provided hash is
	// nil or the hash of one of its unexpired tokens (live or spent): a
	// family ID alone, without a token's secret, revokes nothing. An
	// unknown family or a hash that does not match is not an error
	// (nothing happens).
	RevokeFamily(ctx context.Context, family string, hash []byte) error
}
