package httpx

import (
	"context"
	"errors"
	"time"
)

// TokenVerifier checks a bearer token outside the HTTP middleware: the
// token a WebSocket or SSE client sends when it connects, say. The auth
// module provides one; modules that accept tokens (realtime) take it from
// the container as an optional dependency, so that they need no import
// of auth. It returns what the token says, or an error wrapping
// [ErrTokenExpired], [ErrTokenInvalid] or [ErrTokenUnavailable]. It is
// safe for concurrent use and honours ctx.
type TokenVerifier func(ctx context.Context, token string) (VerifiedToken, error)

// VerifiedToken is what a valid access token says.
type VerifiedToken struct {
	// Subject is the token's subject (the user).
	Subject string
	// Tenant is the tenant the token is valid for, "" for none.
	Tenant string
	// ExpiresAt is when the token stops being valid.
	ExpiresAt time.Time
}

// The errors of a [TokenVerifier], for use with errors.Is.
var (
	// ErrTokenExpired is an expired (not revoked) token: the client
	// should refresh it and try again.
	ErrTokenExpired = errors.New("httpx: token expired")
	// ErrTokenInvalid is any other bad token: malformed, badly signed,
	// revoked.
	ErrTokenInvalid = errors.New("httpx: invalid token")
	// ErrTokenUnavailable means the token could not be checked (its
	// revocation store is down): no verdict; retry later.
	ErrTokenUnavailable = errors.New("httpx: token verification unavailable")
)
