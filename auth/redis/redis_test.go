package redis_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/auth/authtest"
	"github.com/apexgo/apex/auth/redis"
	"github.com/apexgo/apex/internal/redisconn"
	"github.com/apexgo/apex/internal/testservice"
)

// connect returns a new client (one apex instance) to the test Redis.
func connect(t *testing.T, addr string) rueidis.Client {
	t.Helper()
	cfg := redisconn.DefaultConfig()
	cfg.Addr = addr
	cfg.DialTimeout, cfg.CommandTimeout = 2*time.Second, 2*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := redisconn.New(ctx, cfg, redisconn.Params{ClientName: "apex-auth-test"})
	if err != nil {
		t.Fatalf("redisconn.New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// prefix returns a key prefix unique to the test, whose keys are deleted
// when it ends.
func prefix(t *testing.T, c rueidis.Client) string {
	t.Helper()
	p := testservice.Unique("apexauthtest") + ":"
	cleanup(t, c, p)
	return p
}

// cleanup deletes the keys under p when the test ends.
func cleanup(t *testing.T, c rueidis.Client, p string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var cursor uint64
		for {
			e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(p+"*").Count(1000).Build()).AsScanEntry()
			if err != nil {
				t.Errorf("deleting the test's keys: %v", err)
				return
			}
			if len(e.Elements) > 0 {
				_ = c.Do(ctx, c.B().Unlink().Key(e.Elements...).Build()).Error()
			}
			if cursor = e.Cursor; cursor == 0 {
				return
			}
		}
	})
}

func backend(t *testing.T, c rueidis.Client, p string) authtest.Backend {
	t.Helper()
	cfg := redis.Config{Prefix: p, CommandTimeout: 2 * time.Second}
	rv, err := redis.NewRevocations(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rf, err := redis.NewRefresh(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return authtest.Backend{Revocations: rv, Refresh: rf}
}

// Each backend the suite asks for is one instance with its own client
// (and client-side cache), as a second process on the same Redis would be.
func TestConformance(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	authtest.Run(t, authtest.Features{Shared: true}, func(t *testing.T, p string) authtest.Backend {
		c := connect(t, addr)
		cleanup(t, c, p)
		return backend(t, c, p)
	})
}

// Without client-side caching every check goes to Redis; the contract holds.
func TestConformanceNoClientCache(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	cfg := redisconn.DefaultConfig()
	cfg.Addr, cfg.ClientCacheSize = addr, 0
	c, err := redisconn.New(t.Context(), cfg, redisconn.Params{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	authtest.Run(t, authtest.Features{Shared: true}, func(t *testing.T, p string) authtest.Backend {
		cleanup(t, c, p)
		return backend(t, c, p)
	})
}

func TestNilClient(t *testing.T) {
	t.Parallel()
	if _, err := redis.NewRevocations(nil, redis.Config{}); err == nil {
		t.Fatal("NewRevocations(nil) succeeded")
	}
	if _, err := redis.NewRefresh(nil, redis.Config{}); err == nil {
		t.Fatal("NewRefresh(nil) succeeded")
	}
}

// counting is a client that counts the DoCache calls Redis answered (not
// the local cache).
type counting struct {
	rueidis.Client
	remote atomic.Int64
}

func (c *counting) DoCache(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) rueidis.RedisResult {
	r := c.Client.DoCache(ctx, cmd, ttl)
	if !r.IsCacheHit() {
		c.remote.Add(1)
	}
	return r
}

// A token that is not revoked is looked up in Redis once per instance.
func TestRevokedAsksRedisOnce(t *testing.T) {
	t.Parallel()
	c := &counting{Client: connect(t, testservice.Need(t, testservice.Redis))}
	rv, err := redis.NewRevocations(c, redis.Config{Prefix: prefix(t, c.Client)})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Minute)
	for range 100 {
		if revoked, err := rv.Revoked(t.Context(), "jti-1", exp); err != nil || revoked {
			t.Fatalf("Revoked = %v, %v", revoked, err)
		}
	}
	if n := c.remote.Load(); n != 1 {
		t.Fatalf("100 checks of one token asked Redis %d times, want 1", n)
	}
}

// A revoked token stays revoked for as long as Verify would accept it:
// past its exp, within the leeway, on the instance that revoked it and on
// another one that had cached "not revoked" (rueidis client-side cache).
func TestRevocationOutlivesExpiryByLeeway(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	a, b := connect(t, addr), connect(t, addr)
	p := prefix(t, a)
	cfg := auth.DefaultConfig()
	cfg.Issuer, cfg.Audience, cfg.VerifyCacheSize = "t", "t", 0
	cfg.AccessTTL, cfg.Leeway = time.Second, 3*time.Second
	cfg.Secret = app.NewSecret("0123456789abcdef0123456789abcdef")
	instance := func(c rueidis.Client) *auth.JWT {
		bk := backend(t, c, p)
		j, err := auth.New(auth.Params{Config: cfg, Revocations: bk.Revocations, Refresh: bk.Refresh})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	ja, jb := instance(a), instance(b)
	pair, err := ja.Issue(t.Context(), auth.Principal{Subject: "s"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := jb.Verify(t.Context(), pair.AccessToken) // b caches "not revoked"
	if err != nil {
		t.Fatal(err)
	}
	if err := ja.Revoke(t.Context(), auth.RevokeParams{Access: id}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(id.ExpiresAt.Add(time.Second))) // past exp, within the leeway
	for name, j := range map[string]*auth.JWT{"revoking instance": ja, "other instance": jb} {
		if _, err := j.Verify(t.Context(), pair.AccessToken); !errors.Is(err, auth.ErrRevoked) {
			t.Errorf("%s, 1s past exp: Verify = %v, want ErrRevoked", name, err)
		}
	}
}
