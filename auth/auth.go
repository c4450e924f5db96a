// Package auth authenticates requests: signed JWT access tokens, opaque
// rotating refresh tokens with reuse detection, revocation, echo
// middleware with role and permission checks, and argon2id password
// hashing.
//
// The [Tokens] port issues, verifies, refreshes and revokes tokens; [JWT]
// implements it on two store ports, [Revocations] and [RefreshStore],
// whose backends are auth/redis (on the process's rueidis client) and
// auth/memory (one process), both checked by auth/authtest. [Module] wires
// them from the "auth" config section; [New] builds the same without fx.
// [Passwords] hashes and verifies passwords; [Guard] is the HTTP side.
//
// apex does not own the user table: a service looks up its user, checks
// the password with [Passwords.Verify] (or [Passwords.VerifyNoUser] when
// there is no such user) and calls [Tokens.Issue].
//
// The store ports are defined in the leaf package auth/port, so that
// backends implement them without importing this package; the names here
// are aliases of those, so both spellings are the same types.
package auth

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/apexgo/apex/auth/port"
)

// Tokens issues and checks a service's tokens. A store failure is an
// error wrapping [ErrUnavailable], never a verdict on the token; errors
// never contain a token. Implementations are safe for concurrent use by
// many goroutines.
type Tokens interface {
	// Issue mints an access token for p and, with a refresh store, a
	// refresh token starting a new family (a session). It honours ctx; a
	// principal without a subject or with a reserved custom claim is an
	// error.
	Issue(ctx context.Context, p Principal) (Pair, error)
	// Verify checks an access token (size, algorithm, key ID, signature,
	// issuer, audience, expiry, not-before, issued-at, revocation) and
	// returns its identity, or an error wrapping [ErrInvalidToken] (and
	// [ErrRevoked] for a revoked one). It honours ctx.
	Verify(ctx context.Context, token string) (Identity, error)
	// Refresh exchanges a refresh token for a new pair and spends it:
	// presenting it again revokes every token of its family, including
	// the last access token issued from it. Any bad refresh token, reused
	// or not, is an error wrapping [ErrInvalidRefresh] whose text is the
	// same for all (errors.Is(err, [ErrRefreshReused]) tells reuse, for
	// logs only). Of several concurrent refreshes with one token, exactly
	// one succeeds. It honours ctx.
	Refresh(ctx context.Context, refreshToken string) (Pair, error)
	// Revoke revokes what p names; it is not an error to revoke twice. It
	// honours ctx; a malformed refresh token is [ErrInvalidRefresh].
	Revoke(ctx context.Context, p RevokeParams) error
}

// Revocations remembers revoked access-token IDs; see [port.Revocations].
type Revocations = port.Revocations

// RefreshStore keeps refresh-token families; see [port.RefreshStore].
type RefreshStore = port.RefreshStore

// RefreshRecord is one stored refresh token; see [port.RefreshRecord].
type RefreshRecord = port.RefreshRecord

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
func (p Principal) HasRole(role string) bool { return slices.Contains(p.Roles, role) }

// Identity is a verified access token: its principal and the token's ID
// and times. The Guard puts it in the request context ([FromContext]).
// Its Roles and Claims may be shared with other requests presenting the
// same token: read them, do not modify them.
type Identity struct {
	Principal
	// TokenID is the "jti" claim, what [Tokens.Revoke] revokes.
	TokenID string
	// IssuedAt is the "iat" claim; ExpiresAt the "exp" claim.
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
	ExpiresIn int `json:"expires_in"`
	// RefreshToken is empty without a refresh store.
	RefreshToken string `json:"refresh_token,omitempty"`
	// AccessExpiresAt and RefreshExpiresAt are when the tokens expire
	// (not in the JSON form).
	AccessExpiresAt  time.Time `json:"-"`
	RefreshExpiresAt time.Time `json:"-"`
}

// RevokeParams says what [Tokens.Revoke] revokes; each field may be empty.
type RevokeParams struct {
	// Access is the verified identity whose access token (TokenID) is
	// revoked until its ExpiresAt plus the leeway. A zero ExpiresAt (an
	// identity not from Verify) revokes it for the access TTL plus the
	// leeway from now, the longest a token the service issues lives; an
	// ExpiresAt more than the leeway in the past revokes nothing (the
	// token is refused anyway).
	Access Identity
	// RefreshToken's whole family is revoked (logout).
	RefreshToken string
}

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
	// malformed, unknown, expired, reused or of a revoked family. The
	// auth module maps it to a 401 problem.
	ErrInvalidRefresh = port.ErrInvalidRefresh
	// ErrRefreshReused is wrapped, together with ErrInvalidRefresh, by the
	// error of Refresh when a refresh token is presented a second time:
	// its whole family is revoked.
	ErrRefreshReused = port.ErrRefreshReused
	// ErrUnavailable wraps a store failure (Redis unreachable, timed
	// out) in the errors of Tokens: the answer is unknown, not "invalid".
	// The module maps it to 503.
	ErrUnavailable = errors.New("auth: token store unavailable")
	// ErrStoreFull is returned by the memory stores when they hold their
	// maximum number of entries (auth.memory.max_entries). The module
	// maps it to 503.
	ErrStoreFull = port.ErrStoreFull
)

// Errors of [Passwords], for use with errors.Is.
var (
	// ErrPasswordMismatch is returned by Passwords.Verify and
	// Passwords.VerifyNoUser when the password does not match.
	ErrPasswordMismatch = errors.New("auth: password mismatch")
	// ErrUnknownHash is returned by Passwords.Verify for a stored hash in
	// no known format.
	ErrUnknownHash = errors.New("auth: unknown password hash format")
	// ErrPasswordTooLong is returned by Passwords.Hash for a password over
	// auth.password.max_length bytes.
	ErrPasswordTooLong = errors.New("auth: password too long")
)
