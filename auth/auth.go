// Package auth authenticates requests: signed JWT access tokens, opaque
// rotating refresh tokens with reuse detection, revocation, echo
// middleware with role and permission checks, and argon2id password
// hashing.
//
// The [Tokens] port issues, verifies, refreshes and revokes tokens; [JWT]
// implements it on two store ports, [Revocations] and [RefreshStore],
// whose backends are auth/redis (on the process's rueidis client) and
// auth/memory (one process). [Module] wires them from the "auth" config
// section; [New] builds the same without fx. [Passwords] hashes and
// verifies passwords; [Guard] is the HTTP side.
//
// apex does not own the user table: a service looks up its user, checks
// the password with [Passwords.Verify] (or [Passwords.VerifyNoUser] when
// there is no such user) and calls [Tokens.Issue].
//
// The port types are defined in the leaf package auth/port so that
// backends can implement them without importing this package; the names
// here are aliases of those, so both spellings are the same types.
package auth

import "github.com/apexgo/apex/auth/port"

// Tokens issues, verifies, refreshes and revokes tokens; see
// [port.Tokens] for the contract.
type Tokens = port.Tokens

// Revocations remembers revoked access-token IDs; see [port.Revocations].
type Revocations = port.Revocations

// RefreshStore keeps refresh-token families; see [port.RefreshStore].
type RefreshStore = port.RefreshStore

// Principal is who a token is issued for; see [port.Principal].
type Principal = port.Principal

// Identity is a verified access token; see [port.Identity].
type Identity = port.Identity

// Pair is an access token and a refresh token; see [port.Pair].
type Pair = port.Pair

// RevokeParams says what Tokens.Revoke revokes; see [port.RevokeParams].
type RevokeParams = port.RevokeParams

// RefreshRecord is one stored refresh token; see [port.RefreshRecord].
type RefreshRecord = port.RefreshRecord

// Sentinel errors, for use with errors.Is; see the port package for each.
var (
	ErrInvalidToken     = port.ErrInvalidToken
	ErrRevoked          = port.ErrRevoked
	ErrInvalidRefresh   = port.ErrInvalidRefresh
	ErrRefreshReused    = port.ErrRefreshReused
	ErrUnavailable      = port.ErrUnavailable
	ErrStoreFull        = port.ErrStoreFull
	ErrPasswordMismatch = port.ErrPasswordMismatch
	ErrUnknownHash      = port.ErrUnknownHash
)
