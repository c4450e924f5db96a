package redis_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/auth/redis"
	"github.com/apexgo/apex/internal/testservice"
)

// revocationBound is how long a revocation on one instance may take to
// reach another that holds "not revoked" locally: the time Redis's
// invalidation message takes to arrive (microseconds on a host, one
// network trip in a LAN), with room for a loaded test machine.
const revocationBound = 5 * time.Second

// instances returns two instances (each its own client, store and
// verified-token cache) on the Redis at addr, sharing a key prefix.
func instances(t *testing.T, addr string) (a, b *auth.JWT, ra, rb *redis.Revocations) {
	t.Helper()
	ca, cb := connect(t, addr), connect(t, addr)
	p := prefix(t, ca)
	cfg := auth.DefaultConfig()
	cfg.Issuer, cfg.Audience = "t", "t"
	cfg.Secret = app.NewSecret("0123456789abcdef0123456789abcdef")
	one := func(c rueidis.Client) (*auth.JWT, *redis.Revocations) {
		bk := backend(t, c, p)
		j, err := auth.New(auth.Params{Config: cfg, Revocations: bk.Revocations, Refresh: bk.Refresh})
		if err != nil {
			t.Fatal(err)
		}
		return j, bk.Revocations.(*redis.Revocations)
	}
	a, ra = one(ca)
	b, rb = one(cb)
	return a, b, ra, rb
}

// refusedWithin polls Verify on j until it refuses token as revoked and
// returns how long that took; it fails the test after revocationBound.
func refusedWithin(t *testing.T, j *auth.JWT, token string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, err := j.Verify(t.Context(), token)
		if errors.Is(err, auth.ErrRevoked) {
			return time.Since(start)
		}
		if err != nil && !errors.Is(err, auth.ErrUnavailable) {
			t.Fatalf("Verify: %v, want ErrRevoked (or, while reconnecting, ErrUnavailable)", err)
		}
		if time.Since(start) > revocationBound {
			t.Fatalf("%v after the revocation, the other instance still accepts the token", revocationBound)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// A revocation on instance A reaches instance B, which verified the token
// before and holds "not revoked" locally (its verified-token cache and
// the store's local answers), within the bound: for a token ID and for a
// subject's sessions.
func TestRevocationReachesAnotherInstance(t *testing.T) {
	t.Parallel()
	a, b, _, rb := instances(t, testservice.Need(t, testservice.Redis))
	for _, tc := range []struct {
		name   string
		revoke func(auth.Identity) auth.RevokeParams
	}{
		{"token", func(id auth.Identity) auth.RevokeParams { return auth.RevokeParams{Access: id} }},
		{"subject", func(id auth.Identity) auth.RevokeParams { return auth.RevokeParams{EverySessionOf: id.Subject} }},
	} {
		pair, err := a.Issue(t.Context(), auth.Principal{Subject: "user-" + tc.name})
		if err != nil {
			t.Fatal(err)
		}
		id, err := b.Verify(t.Context(), pair.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		before := redis.LocalLen(rb)
		if _, err := b.Verify(t.Context(), pair.AccessToken); err != nil {
			t.Fatal(err)
		}
		if before < 2 {
			t.Fatalf("%s: B holds %d answers locally after a check, want its ID's and its subject's", tc.name, before)
		}
		if err := a.Revoke(t.Context(), tc.revoke(id)); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s revoked on A: refused on B after %v", tc.name, refusedWithin(t, b, pair.AccessToken))
		if _, err := a.Verify(t.Context(), pair.AccessToken); !errors.Is(err, auth.ErrRevoked) {
			t.Fatalf("%s: A, which revoked it, accepts it: %v", tc.name, err)
		}
	}
}

// When B's connection is lost (the server restarted), Redis forgets what
// B read and will never invalidate it: B drops what it holds locally, so
// that a revocation written after the restart is refused on B too.
func TestRevocationAfterServerRestart(t *testing.T) {
	t.Parallel()
	s := testservice.StartRedis(t)
	a, b, _, rb := instances(t, s.Addr)
	pair, err := a.Issue(t.Context(), auth.Principal{Subject: "user-1"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := b.Verify(t.Context(), pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if n := redis.LocalLen(rb); n < 2 {
		t.Fatalf("B holds %d answers locally, want 2", n)
	}
	s.Kill()
	s.Start() // empty: no persistence
	// A revokes as soon as its client reconnects.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := a.Revoke(t.Context(), auth.RevokeParams{Access: id})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revoking on A after the restart: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("revoked on A after the restart: refused on B after %v", refusedWithin(t, b, pair.AccessToken))
}
