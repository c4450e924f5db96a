// Package authtest is the conformance suite of the auth stores:
// [Run] checks an [auth.Revocations] and an [auth.RefreshStore], directly
// and through the [auth.JWT] tokens built on them. Every backend in apex
// runs it, and so can a user's own:
//
//	func TestMyStores(t *testing.T) {
//		authtest.Run(t, func(t *testing.T) authtest.Backend { ... })
//	}
//
// Subtests run in parallel; each asks for its own Backend, which must not
// share keys with any other (give each a unique key prefix) and should
// clean up after itself with t.Cleanup.
package authtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
)

// Backend is one instance's pair of stores.
type Backend struct {
	Revocations auth.Revocations
	Refresh     auth.RefreshStore
	// Peer, when set, returns another instance sharing this backend's
	// data (as a second process on the same Redis would, with its own
	// client); the suite then checks that each sees the other's writes.
	Peer func(t *testing.T) Backend
}

// Run checks the backends returned by newBackend.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	runRevocations(t, newBackend)
	runRefresh(t, newBackend)
	runTokens(t, newBackend)
}

func ctx(t *testing.T) context.Context { return t.Context() }

// peers returns two instances sharing one backend, or skips the test for
// a backend that is not shared.
func peers(t *testing.T, newBackend func(t *testing.T) Backend) (Backend, Backend) {
	t.Helper()
	a := newBackend(t)
	if a.Peer == nil {
		t.Skip("the backend is not shared between instances")
	}
	return a, a.Peer(t)
}

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

func runRevocations(t *testing.T, newBackend func(t *testing.T) Backend) {
	t.Run("Revocations/Unknown", func(t *testing.T) {
		t.Parallel()
		r := newBackend(t).Revocations
		wantRevoked(t, r, newID(), time.Now().Add(time.Minute), false)
	})

	t.Run("Revocations/RevokeIsImmediate", func(t *testing.T) {
		t.Parallel()
		r := newBackend(t).Revocations
		id, other, exp := newID(), newID(), time.Now().Add(time.Minute)
		// Ask first, so that a backend caching "not revoked" has cached it.
		wantRevoked(t, r, id, exp, false)
		wantRevoked(t, r, other, exp, false)
		if err := r.Revoke(ctx(t), id, exp); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		wantRevoked(t, r, id, exp, true)
		wantRevoked(t, r, other, exp, false)
		if err := r.Revoke(ctx(t), id, exp); err != nil {
			t.Fatalf("second Revoke: %v", err)
		}
		wantRevoked(t, r, id, exp, true)
	})

	t.Run("Revocations/Expire", func(t *testing.T) {
		t.Parallel()
		r := newBackend(t).Revocations
		id, until := newID(), time.Now().Add(200*time.Millisecond)
		if err := r.Revoke(ctx(t), id, until); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if time.Now().Before(until.Add(-100 * time.Millisecond)) {
			wantRevoked(t, r, id, until, true)
		}
		time.Sleep(time.Until(until))
		eventually(t, r, id, until, false, 3*time.Second)
	})

	t.Run("Revocations/PastIsNoop", func(t *testing.T) {
		t.Parallel()
		r := newBackend(t).Revocations
		id := newID()
		if err := r.Revoke(ctx(t), id, time.Now().Add(-time.Second)); err != nil {
			t.Fatalf("Revoke of an expired token: %v", err)
		}
		wantRevoked(t, r, id, time.Now().Add(time.Minute), false)
	})

	t.Run("Revocations/CanceledContext", func(t *testing.T) {
		t.Parallel()
		r := newBackend(t).Revocations
		c, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := r.Revoked(c, newID(), time.Now().Add(time.Minute)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Revoked with a canceled context: %v, want context.Canceled", err)
		}
		if err := r.Revoke(c, newID(), time.Now().Add(time.Minute)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Revoke with a canceled context: %v, want context.Canceled", err)
		}
	})

	t.Run("Revocations/SharedByPeers", func(t *testing.T) {
		t.Parallel()
		a, b := peers(t, newBackend)
		id, exp := newID(), time.Now().Add(time.Minute)
		wantRevoked(t, a.Revocations, id, exp, false)
		wantRevoked(t, b.Revocations, id, exp, false) // b caches "not revoked"
		if err := a.Revocations.Revoke(ctx(t), id, exp); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		wantRevoked(t, a.Revocations, id, exp, true)
		eventually(t, b.Revocations, id, exp, true, 2*time.Second)
		// And the other way round.
		id2 := newID()
		wantRevoked(t, a.Revocations, id2, exp, false)
		if err := b.Revocations.Revoke(ctx(t), id2, exp); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		eventually(t, a.Revocations, id2, exp, true, 2*time.Second)
	})
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

func runRefresh(t *testing.T, newBackend func(t *testing.T) Backend) {
	t.Run("Refresh/Rotate", func(t *testing.T) {
		t.Parallel()
		s := newBackend(t).Refresh
		fam := newID()
		first := record(fam, hash(), time.Hour)
		create(t, s, first)
		next := record(fam, hash(), time.Hour)
		old, err := s.Rotate(ctx(t), fam, first.Hash, next)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		if old.Family != fam || old.Subject != "user-1" || !bytes.Equal(old.Data, first.Data) || !bytes.Equal(old.Hash, first.Hash) {
			t.Fatalf("Rotate returned %+v; want the first record's family, subject, data and hash", old)
		}
		if d := old.ExpiresAt.Sub(first.ExpiresAt); d > time.Second || d < -time.Second {
			t.Fatalf("Rotate returned expiry %v, want about %v", old.ExpiresAt, first.ExpiresAt)
		}
		third := record(fam, hash(), time.Hour)
		third.Started = time.Now().Add(time.Hour) // ignored: the family's start stays
		second, err := s.Rotate(ctx(t), fam, next.Hash, third)
		if err != nil {
			t.Fatalf("second Rotate: %v", err)
		}
		for _, r := range []auth.RefreshRecord{old, second} {
			if !r.Started.Equal(first.Started) {
				t.Fatalf("Rotate returned Started %v, want the family's %v", r.Started, first.Started)
			}
		}
	})

	t.Run("Refresh/ReuseRevokesFamily", func(t *testing.T) {
		t.Parallel()
		s := newBackend(t).Refresh
		fam := newID()
		first := record(fam, hash(), time.Hour)
		create(t, s, first)
		next := record(fam, hash(), time.Hour)
		if _, err := s.Rotate(ctx(t), fam, first.Hash, next); err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		latest, err := s.Rotate(ctx(t), fam, first.Hash, record(fam, hash(), time.Hour))
		wantInvalid(t, err, true)
		if latest.AccessID != next.AccessID || latest.Subject != "user-1" {
			t.Fatalf("reuse returned %+v; want the family's latest access ID %q and its subject", latest, next.AccessID)
		}
		if d := latest.AccessExpiresAt.Sub(next.AccessExpiresAt); d > time.Second || d < -time.Second {
			t.Fatalf("reuse returned access expiry %v, want %v", latest.AccessExpiresAt, next.AccessExpiresAt)
		}
		// The family is dead: its newest token too.
		_, err = s.Rotate(ctx(t), fam, next.Hash, record(fam, hash(), time.Hour))
		wantInvalid(t, err, false)
	})

	t.Run("Refresh/Unknown", func(t *testing.T) {
		t.Parallel()
		s := newBackend(t).Refresh
		_, err := s.Rotate(ctx(t), newID(), hash(), record("x", hash(), time.Hour))
		wantInvalid(t, err, false)
		fam := newID()
		first := record(fam, hash(), time.Hour)
		create(t, s, first)
		// A wrong secret for a live family is not reuse, and harms nothing.
		_, err = s.Rotate(ctx(t), fam, hash(), record(fam, hash(), time.Hour))
		wantInvalid(t, err, false)
		if _, err := s.Rotate(ctx(t), fam, first.Hash, record(fam, hash(), time.Hour)); err != nil {
			t.Fatalf("Rotate after a wrong guess: %v", err)
		}
	})

	t.Run("Refresh/Expired", func(t *testing.T) {
		t.Parallel()
		s := newBackend(t).Refresh
		fam := newID()
		first := record(fam, hash(), 150*time.Millisecond)
		create(t, s, first)
		time.Sleep(300 * time.Millisecond)
		_, err := s.Rotate(ctx(t), fam, first.Hash, record(fam, hash(), time.Hour))
		wantInvalid(t, err, false)
	})

	t.Run("Refresh/RevokeFamily", func(t *testing.T) {
		t.Parallel()
		s := newBackend(t).Refresh
		fam, other := newID(), newID()
		first, o := record(fam, hash(), time.Hour), record(other, hash(), time.Hour)
		create(t, s, first)
		create(t, s, o)
		// The family ID with a made-up secret revokes nothing.
		if err := s.RevokeFamily(ctx(t), fam, hash()); err != nil {
			t.Fatalf("RevokeFamily with a wrong hash: %v", err)
		}
		next := record(fam, hash(), time.Hour)
		if _, err := s.Rotate(ctx(t), fam, first.Hash, next); err != nil {
			t.Fatalf("Rotate after RevokeFamily with a wrong hash: %v", err)
		}
		// A token of the family (here the live one) revokes it.
		if err := s.RevokeFamily(ctx(t), fam, next.Hash); err != nil {
			t.Fatalf("RevokeFamily: %v", err)
		}
		if err := s.RevokeFamily(ctx(t), fam, next.Hash); err != nil {
			t.Fatalf("second RevokeFamily: %v", err)
		}
		if err := s.RevokeFamily(ctx(t), newID(), nil); err != nil {
			t.Fatalf("RevokeFamily of an unknown family: %v", err)
		}
		_, err := s.Rotate(ctx(t), fam, next.Hash, record(fam, hash(), time.Hour))
		wantInvalid(t, err, false)
		if _, err := s.Rotate(ctx(t), other, o.Hash, record(other, hash(), time.Hour)); err != nil {
			t.Fatalf("Rotate of another family: %v", err)
		}
		// A spent token revokes too, and nil needs no token.
		o2 := record(other, hash(), time.Hour)
		if _, err := s.Rotate(ctx(t), other, o2.Hash, record(other, hash(), time.Hour)); !errors.Is(err, auth.ErrInvalidRefresh) {
			t.Fatalf("Rotate with an unknown hash: %v", err)
		}
		if err := s.RevokeFamily(ctx(t), other, o.Hash); err != nil {
			t.Fatalf("RevokeFamily with a spent token: %v", err)
		}
		_, err = s.Rotate(ctx(t), other, o.Hash, record(other, hash(), time.Hour))
		wantInvalid(t, err, false)
		third := newID()
		tr := record(third, hash(), time.Hour)
		create(t, s, tr)
		if err := s.RevokeFamily(ctx(t), third, nil); err != nil {
			t.Fatalf("RevokeFamily without a hash: %v", err)
		}
		_, err = s.Rotate(ctx(t), third, tr.Hash, record(third, hash(), time.Hour))
		wantInvalid(t, err, false)
	})

	t.Run("Refresh/ConcurrentRotate", func(t *testing.T) {
		t.Parallel()
		s := newBackend(t).Refresh
		fam := newID()
		first := record(fam, hash(), time.Hour)
		create(t, s, first)
		var ok, invalid atomic.Int32
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				_, err := s.Rotate(ctx(t), fam, first.Hash, record(fam, hash(), time.Hour))
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, auth.ErrInvalidRefresh):
					invalid.Add(1)
				default:
					t.Errorf("Rotate: %v", err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 || invalid.Load() != 99 {
			t.Fatalf("100 concurrent Rotates of one token: %d succeeded, %d invalid; want 1 and 99", ok.Load(), invalid.Load())
		}
	})

	t.Run("Refresh/SharedByPeers", func(t *testing.T) {
		t.Parallel()
		a, b := peers(t, newBackend)
		fam := newID()
		first := record(fam, hash(), time.Hour)
		create(t, a.Refresh, first)
		next := record(fam, hash(), time.Hour)
		if _, err := b.Refresh.Rotate(ctx(t), fam, first.Hash, next); err != nil {
			t.Fatalf("Rotate on the peer: %v", err)
		}
		_, err := a.Refresh.Rotate(ctx(t), fam, first.Hash, record(fam, hash(), time.Hour))
		wantInvalid(t, err, true)
	})
}

// tokens returns a JWT on b's stores.
func tokens(t *testing.T, b Backend) *auth.JWT {
	t.Helper()
	cfg := auth.DefaultConfig()
	cfg.Issuer, cfg.Audience = "authtest", "authtest"
	cfg.Secret = app.NewSecret("authtest-secret-of-at-least-32-bytes!")
	j, err := auth.New(auth.Params{Config: cfg, Revocations: b.Revocations, Refresh: b.Refresh})
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

func runTokens(t *testing.T, newBackend func(t *testing.T) Backend) {
	alice := auth.Principal{Subject: "alice", Roles: []string{"admin"}, Tenant: "acme", Claims: map[string]any{"plan": "pro"}}

	t.Run("Tokens/RefreshRotates", func(t *testing.T) {
		t.Parallel()
		j := tokens(t, newBackend(t))
		p1 := issue(t, j, alice)
		p2 := refresh(t, j, p1.RefreshToken)
		if p2.RefreshToken == p1.RefreshToken || p2.AccessToken == p1.AccessToken {
			t.Fatal("Refresh returned the same tokens")
		}
		id, err := j.Verify(ctx(t), p2.AccessToken)
		if err != nil {
			t.Fatalf("Verify of the refreshed access token: %v", err)
		}
		if id.Subject != "alice" || !id.HasRole("admin") || id.Tenant != "acme" || id.Claims["plan"] != "pro" {
			t.Fatalf("refreshed identity %+v lost the principal", id)
		}
		if _, err := j.Refresh(ctx(t), p2.RefreshToken); err != nil {
			t.Fatalf("second Refresh: %v", err)
		}
	})

	t.Run("Tokens/ReuseRevokesFamilyAndAccess", func(t *testing.T) {
		t.Parallel()
		j := tokens(t, newBackend(t))
		p1 := issue(t, j, alice)
		p2 := refresh(t, j, p1.RefreshToken)
		_, err := j.Refresh(ctx(t), p1.RefreshToken)
		wantInvalid(t, err, true)
		_, err = j.Refresh(ctx(t), p2.RefreshToken)
		wantInvalid(t, err, false)
		if _, err := j.Verify(ctx(t), p2.AccessToken); !errors.Is(err, auth.ErrRevoked) {
			t.Fatalf("Verify of the access token of a reused family: %v, want auth.ErrRevoked", err)
		}
	})

	t.Run("Tokens/Logout", func(t *testing.T) {
		t.Parallel()
		j := tokens(t, newBackend(t))
		p := issue(t, j, alice)
		id, err := j.Verify(ctx(t), p.AccessToken)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if err := j.Revoke(ctx(t), auth.RevokeParams{Access: id, RefreshToken: p.RefreshToken}); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if _, err := j.Verify(ctx(t), p.AccessToken); !errors.Is(err, auth.ErrInvalidToken) || !errors.Is(err, auth.ErrRevoked) {
			t.Fatalf("Verify after Revoke: %v, want ErrInvalidToken and ErrRevoked", err)
		}
		_, err = j.Refresh(ctx(t), p.RefreshToken)
		wantInvalid(t, err, false)
		if err := j.Revoke(ctx(t), auth.RevokeParams{Access: id, RefreshToken: p.RefreshToken}); err != nil {
			t.Fatalf("second Revoke: %v", err)
		}
	})

	t.Run("Tokens/RevokeNeedsTheSecret", func(t *testing.T) {
		t.Parallel()
		j := tokens(t, newBackend(t))
		p := issue(t, j, alice)
		// Same family, another secret: what someone who saw only the
		// family ID could make.
		raw, err := base64.RawURLEncoding.DecodeString(p.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = rand.Read(raw[16:])
		forged := base64.RawURLEncoding.EncodeToString(raw)
		if err := j.Revoke(ctx(t), auth.RevokeParams{RefreshToken: forged}); err != nil {
			t.Fatalf("Revoke with a forged token: %v", err)
		}
		refresh(t, j, p.RefreshToken)
	})

	t.Run("Tokens/ConcurrentRefresh", func(t *testing.T) {
		t.Parallel()
		j := tokens(t, newBackend(t))
		p := issue(t, j, alice)
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				_, err := j.Refresh(ctx(t), p.RefreshToken)
				if err == nil {
					ok.Add(1)
				} else if !errors.Is(err, auth.ErrInvalidRefresh) {
					t.Errorf("Refresh: %v", err)
				}
			})
		}
		wg.Wait()
		if n := ok.Load(); n != 1 {
			t.Fatalf("100 concurrent refreshes of one token: %d succeeded, want exactly 1", n)
		}
	})

	t.Run("Tokens/RevocationSharedByPeers", func(t *testing.T) {
		t.Parallel()
		one, other := peers(t, newBackend)
		a, peer := tokens(t, one), tokens(t, other)
		p := issue(t, a, alice)
		id, err := peer.Verify(ctx(t), p.AccessToken) // the peer caches "not revoked"
		if err != nil {
			t.Fatalf("Verify on the peer: %v", err)
		}
		if err := a.Revoke(ctx(t), auth.RevokeParams{Access: id}); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for {
			_, err := peer.Verify(ctx(t), p.AccessToken)
			if errors.Is(err, auth.ErrRevoked) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the peer still verifies a revoked token after 2s: %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		// A refresh on one instance spends the token for the other.
		p2 := refresh(t, peer, p.RefreshToken)
		_, err = a.Refresh(ctx(t), p.RefreshToken)
		wantInvalid(t, err, true)
		if _, err := a.Verify(ctx(t), p2.AccessToken); !errors.Is(err, auth.ErrRevoked) {
			t.Fatalf("the peer's access token after reuse: %v, want auth.ErrRevoked", err)
		}
	})
}
