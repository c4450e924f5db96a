// Package authtest is the conformance suite of the auth stores: [Run]
// checks an [auth.Revocations] and an [auth.RefreshStore], directly and
// through the [auth.JWT] tokens built on them. Every backend in apex runs
// it, and so can a user's own:
//
//	func TestMyStores(t *testing.T) {
//		authtest.Run(t, authtest.Features{Shared: true}, func(t *testing.T, prefix string) authtest.Backend {
//			return authtest.Backend{Revocations: ..., Refresh: ...} // keys under prefix
//		})
//	}
//
// The suite isolates every test itself: it makes up a key prefix per test
// and passes it to newBackend, which must keep that backend's data under
// it (and may delete it with t.Cleanup). Tests run in parallel. Each
// behaviour is also exported on its own ([Revocations], [Rotate],
// [Reuse], [RevokeFamily], [Tokens], [Shared]), with the same arguments,
// for a backend that wants to run only some.
package authtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
)

// Backend is one instance's pair of stores.
type Backend struct {
	Revocations auth.Revocations
	Refresh     auth.RefreshStore
}

// Features says what a backend can do.
type Features struct {
	// Shared means that two Backends made with the same prefix share
	// their data, as two processes on one Redis do (each with its own
	// client): the suite then checks that each instance sees the other's
	// writes. False for in-process stores.
	Shared bool
}

// NewBackend returns one instance of the stores, keeping its data under
// prefix. Called twice with one prefix, it returns two instances of the
// same data when [Features.Shared] is set.
type NewBackend func(t *testing.T, prefix string) Backend

// Run runs every behaviour of the suite.
func Run(t *testing.T, f Features, newBackend NewBackend) {
	Revocations(t, f, newBackend)
	Rotate(t, f, newBackend)
	Reuse(t, f, newBackend)
	RevokeFamily(t, f, newBackend)
	Tokens(t, f, newBackend)
	Shared(t, f, newBackend)
}

// prefix returns a key prefix no other test uses.
func prefix() string { return "authtest:" + rand.Text() + ":" }

// fresh returns a backend on a prefix of its own.
func fresh(t *testing.T, newBackend NewBackend) Backend {
	t.Helper()
	return newBackend(t, prefix())
}

// peers returns two instances sharing one backend's data, or skips the
// test for a backend that is not shared.
func peers(t *testing.T, f Features, newBackend NewBackend) (Backend, Backend) {
	t.Helper()
	if !f.Shared {
		t.Skip("the backend is not shared between instances (Features.Shared)")
	}
	p := prefix()
	return newBackend(t, p), newBackend(t, p)
}

func ctx(t *testing.T) context.Context { return t.Context() }

func newID() string { return rand.Text() }

func hash() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	sum := sha256.Sum256(b)
	return sum[:]
}

func wantRevoked(t *testing.T, r auth.Revocations, id string, exp time.Time, want bool) {
	t.Helper()
	got, err := r.Revoked(ctx(t), id, exp)
	if err != nil {
		t.Fatalf("Revoked(%q): %v", id, err)
	}
	if got != want {
		t.Fatalf("Revoked(%q) = %v, want %v", id, got, want)
	}
}

// eventually polls Revoked until it reports want, for changes made through
// another instance (whose invalidation may trail by milliseconds).
func eventually(t *testing.T, r auth.Revocations, id string, exp time.Time, want bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, err := r.Revoked(ctx(t), id, exp)
		if err != nil {
			t.Fatalf("Revoked(%q): %v", id, err)
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Revoked(%q) still %v after %v, want %v", id, got, within, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func record(family string, h []byte, ttl time.Duration) auth.RefreshRecord {
	now := time.Now()
	return auth.RefreshRecord{
		Family: family, Hash: h, Subject: "user-1", ExpiresAt: now.Add(ttl), Data: []byte(`{"r":["admin"]}`),
		AccessID: newID(), AccessExpiresAt: now.Add(time.Minute), Started: now,
	}
}

func create(t *testing.T, s auth.RefreshStore, r auth.RefreshRecord) {
	t.Helper()
	if err := s.Create(ctx(t), r); err != nil {
		t.Fatalf("Create: %v", err)
	}
}

func wantInvalid(t *testing.T, err error, reused bool) {
	t.Helper()
	if !errors.Is(err, auth.ErrInvalidRefresh) {
		t.Fatalf("got %v, want an error wrapping auth.ErrInvalidRefresh", err)
	}
	if errors.Is(err, auth.ErrRefreshReused) != reused {
		t.Fatalf("got %v; wrapping auth.ErrRefreshReused should be %v", err, reused)
	}
}

// tokens returns a JWT on b's stores.
func tokens(t *testing.T, b Backend, tweak ...func(*auth.Params)) *auth.JWT {
	t.Helper()
	cfg := auth.DefaultConfig()
	cfg.Issuer, cfg.Audience = "authtest", "authtest"
	cfg.Secret = app.NewSecret("authtest-secret-of-at-least-32-bytes!")
	p := auth.Params{Config: cfg, Revocations: b.Revocations, Refresh: b.Refresh}
	for _, f := range tweak {
		f(&p)
	}
	j, err := auth.New(p)
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	return j
}

func issue(t *testing.T, j auth.Tokens, p auth.Principal) auth.Pair {
	t.Helper()
	pair, err := j.Issue(ctx(t), p)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return pair
}

func refresh(t *testing.T, j auth.Tokens, token string) auth.Pair {
	t.Helper()
	pair, err := j.Refresh(ctx(t), token)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	return pair
}

var alice = auth.Principal{Subject: "alice", Roles: []string{"admin"}, Tenant: "acme", Claims: map[string]any{"plan": "pro"}}
