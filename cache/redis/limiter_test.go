package redis_test

import (
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/apexgo/apex/cache/cachetest"
	"github.com/apexgo/apex/cache/port"
	"github.com/apexgo/apex/cache/redis"
	"github.com/apexgo/apex/internal/testservice"
)

func TestLimiterConformance(t *testing.T) {
	t.Parallel()
	client := connect(t, testservice.Need(t, testservice.Redis))
	cachetest.RunLimiter(t, cachetest.LimiterFeatures{}, func(t *testing.T) port.Limiter {
		l, err := redis.NewLimiter(client, redis.LimiterConfig{Prefix: prefix(t, client)})
		if err != nil {
			t.Fatalf("redis.NewLimiter: %v", err)
		}
		return l
	})
}

// TestLimiterKeysExpire: a key lives no longer than its burst takes to
// come back, then disappears from Redis.
func TestLimiterKeysExpire(t *testing.T) {
	t.Parallel()
	client := connect(t, testservice.Need(t, testservice.Redis))
	p := prefix(t, client)
	l, err := redis.NewLimiter(client, redis.LimiterConfig{Prefix: p})
	if err != nil {
		t.Fatal(err)
	}
	lim := port.Limit{Rate: 10, Period: time.Second, Burst: 5}
	window := time.Duration(lim.Burst) * lim.Interval()
	for i := range lim.Burst {
		r, err := l.Allow(t.Context(), "k", lim)
		if err != nil || !r.Allowed {
			t.Fatalf("Allow %d: %+v, %v", i+1, r, err)
		}
		pttl, err := client.Do(t.Context(), client.B().Pttl().Key(p+"k").Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		// PTTL is ResetAfter rounded up to a millisecond.
		if got := time.Duration(pttl) * time.Millisecond; got <= 0 || got > r.ResetAfter+time.Millisecond || got > window {
			t.Fatalf("after event %d: PTTL %v, want in (0, %v] (ResetAfter %v)", i+1, got, window, r.ResetAfter)
		}
	}
	// A refusal does not extend the key's life.
	if r, err := l.Allow(t.Context(), "k", lim); err != nil || r.Allowed {
		t.Fatalf("past the burst: %+v, %v", r, err)
	}
	deadline := time.Now().Add(window + 2*time.Second)
	for {
		n, err := client.Do(t.Context(), client.B().Exists().Key(p+"k").Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the limiter's key still exists %v after its burst window", window+2*time.Second)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLimiterSharedByInstances: two clients (two instances) enforce one
// limit together.
func TestLimiterSharedByInstances(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	clientA, clientB := connect(t, addr), connect(t, addr)
	p := prefix(t, clientA)
	var limiters [2]*redis.Limiter
	for i, c := range []rueidis.Client{clientA, clientB} {
		l, err := redis.NewLimiter(c, redis.LimiterConfig{Prefix: p})
		if err != nil {
			t.Fatal(err)
		}
		limiters[i] = l
	}
	lim := port.Limit{Rate: 1, Period: time.Hour, Burst: 10}
	admitted := [2]int{}
	for i := range 30 {
		r, err := limiters[i%2].Allow(t.Context(), "shared", lim)
		if err != nil {
			t.Fatalf("Allow %d: %v", i+1, err)
		}
		if r.Allowed {
			admitted[i%2]++
		}
	}
	if admitted[0]+admitted[1] != lim.Burst || admitted[0] != 5 || admitted[1] != 5 {
		t.Fatalf("admitted %v by the two instances, want 5 each, %d in total", admitted, lim.Burst)
	}
}
