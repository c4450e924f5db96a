// Package port defines the auth module's ports, [Tokens], [Revocations]
// and [RefreshStore], their types and sentinel errors. It is a leaf
// package so that the store backends (auth/redis, auth/memory, a user's
// own) and the auth module can share it; package auth re-exports every
// name, and user code should import auth.
package port

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors, for use with errors.Is.
var (
	// ErrInvalidToken is returned by Verify for an access token that is
	// malformed, too large, badly signed, signed with an algorithm or key
	// not configured, issued for another issuer or audience, expired, not
	// yet valid or revoked. Wrapped errors say which, for logs only: the
	// HTTP answer never does.
	ErrInvalidToken = errors.New("auth: invalid access token")
	// ErrRevoked is returned by Verify, together with ErrInvalidToken, for
	// a revoked token.
	ErrRevoked = errors.New("auth: access token revoked")
	// ErrInvalidRefresh is returned by Refresh for a refresh token that is
	// malformed, unknown, expired or of a revoked family.
	ErrInvalidRefresh = errors.New("auth: invalid refresh token")
	// ErrRefreshReused is returned, together with ErrInvalidRefresh, when
	// a refresh token is presented a second time: the store revokes its
	// whole family.
	ErrRefreshReused = errors.New("auth: refresh token reused; family revoked")
	// ErrUnavailable wraps a store failure (Redis unreachable, timed
	// out) in the errors of Tokens: the answer is unknown, not "invalid".
	// The module maps it to 503.
	ErrUnavailable = errors.New("auth: token store unavailable")
	// ErrStoreFull is returned by the memory stores when they hold their
	// maximum number of entries.
	ErrStoreFull = errors.New("auth: store full")
	// ErrPasswordMismatch is returned by the password checks of
	// auth.Passwords when the password does not match.
	ErrPasswordMismatch = errors.New("auth: password mismatch")
	// ErrUnknownHash is returned for a stored hash in no known format.
	ErrUnknownHash = errors.New("auth: unknown password hash format")
)

// Principal is who a token is issued for.
type Principal struct {
	// Subject identifies the user (the "sub" claim). Required.
	Subject string
	// Roles are the subject's roles ("roles" claim).
	Roles []string
	// Tenant is the subject's tenant ("tenant" claim), if any.
	Tenant string
	// Claims are custom claims, JSON-encodable; the registered names (iss,
	// sub, aud, exp, nbf, iat, jti) and roles and tenant are refused, in
	// any case ("Sub" too).
	Claims map[string]any
}

// HasRole reports whether p has the role.
func (p Principal) HasRole(role string) bool {
	for _, r := range p.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Identity is a verified access token: its principal and the token's ID
// and times. The auth middleware puts it in the request context
// (auth.FromContext). Its Roles and Claims may be shared with other
// requests presenting the same token: read them, do not modify them.
type Identity struct {
	Principal
	// TokenID is the "jti" claim, what [Tokens.Revoke] revokes.
	TokenID   string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Pair is what Issue and Refresh return. Its JSON form is an OAuth 2.0
// token response (RFC 6749 §5.1).
type Pair struct {
	AccessToken string `json:"access_token"`
	// TokenType is "Bearer".
	TokenType string `json:"token_type"`
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn        int       `json:"expires_in"`
	RefreshToken     string    `json:"refresh_token,omitempty"`
	AccessExpiresAt  time.Time `json:"-"`
	RefreshExpiresAt time.Time `json:"-"`
}

// Tokens issues and checks a service's tokens.
//
// Issue mints an access token for p and, with a refresh store, a refresh
// token starting a new family. Verify checks an access token (size,
// algorithm, key ID, signature, issuer, audience, expiry, not-before,
// issued-at, revocation) and returns its identity, or an error wrapping
// [ErrInvalidToken]. Refresh exchanges a refresh token for a new pair and
// invalidates it: presenting it again returns [ErrRefreshReused] and
// revokes every token of its family, including the last access token
// issued from it; any other bad refresh token is [ErrInvalidRefresh]. Of
// several concurrent refreshes with one token, exactly one succeeds.
// Revoke revokes an access token until it would fail verification anyway
// (its expiry plus the leeway) and, given a refresh token, its family
// (logout); it is not an error to revoke twice. A store failure is an
// error wrapping [ErrUnavailable], never a verdict on the token.
//
// Errors never contain a token. Every method honours ctx. Implementations
// are safe for concurrent use.
type Tokens interface {
	Issue(ctx context.Context, p Principal) (Pair, error)
	Verify(ctx context.Context, token string) (Identity, error)
	Refresh(ctx context.Context, refreshToken string) (Pair, error)
	Revoke(ctx context.Context, p RevokeParams) error
}

// RevokeParams says what [Tokens.Revoke] revokes; either may be empty.
type RevokeParams struct {
	// Access is the verified identity whose access token (TokenID) is
	// revoked until its ExpiresAt plus the leeway. A zero ExpiresAt (an
	// identity not from Verify) revokes it for the access TTL plus the
	// leeway from now, the longest a token the service issues lives; an
	// ExpiresAt more than the leeway in the past revokes nothing (the
	// token is refused anyway).
	Access Identity
	// RefreshToken's whole family is revoked.
	RefreshToken string
}

// Revocations remembers revoked access-token IDs until the tokens expire.
//
// Revoke records id as revoked until until: the last moment the verifier
// would accept the token (its exp plus the clock-skew leeway); after that
// the token is refused anyway and the entry may vanish. Revoked reports
// whether id is revoked; exp is that same moment for the token, up to
// which a backend may cache a "not revoked" answer locally provided a
// Revoke anywhere reaches that cache (Redis invalidates it). A Revoke is visible to the Revoked calls
// of every instance sharing the backend, and at once in the instance that
// made it. Errors are backend failures; ctx bounds every call.
// Implementations are safe for concurrent use.
type Revocations interface {
	Revoke(ctx context.Context, id string, until time.Time) error
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
	// encoded by [JWT]); opaque to the store.
	Data []byte
	// AccessID and AccessExpiresAt name the access token issued with this
	// refresh token, revoked when the family is found reused.
	AccessID        string
	AccessExpiresAt time.Time
	// Started is when the family was issued (the login). The store keeps
	// the one given to Create; Rotate ignores next's and returns it.
	Started time.Time
}

// RefreshStore keeps refresh-token families.
//
// Create stores the first token of a new family. Rotate atomically
// replaces the token of family whose hash is hash with next (same family)
// and returns the replaced record, with the family's Subject, Data and
// Started as given to Create: it returns an error wrapping
// [ErrInvalidRefresh] when no live token of the family has that hash, the
// token has expired or the family is revoked, and one wrapping
// [ErrRefreshReused] (and ErrInvalidRefresh) when the token was already
// rotated, after revoking the family — with the family's latest record,
// so that the caller can revoke its access token. Of concurrent Rotates
// of one token, exactly one succeeds. RevokeFamily makes every token of
// the family invalid, provided hash is nil or the hash of one of its
// unexpired tokens (live or spent): a family ID alone, without a token's
// secret, revokes nothing. It is not an error for an unknown family or a
// hash that does not match (nothing happens). Records vanish once
// expired. Implementations are safe for concurrent use.
type RefreshStore interface {
	Create(ctx context.Context, r RefreshRecord) error
	Rotate(ctx context.Context, family string, hash []byte, next RefreshRecord) (RefreshRecord, error)
	RevokeFamily(ctx context.Context, family string, hash []byte) error
}
