package cachetest_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/apexgo/apex/cache"
	"github.com/apexgo/apex/cache/cachetest"
	"github.com/apexgo/apex/cache/memory"
)

// counted is what a user's own adapter looks like from outside apex: a
// type of theirs that implements the ports (here by counting calls on
// top of the in-process backends), which the suites check as they check
// apex's backends.
type counted struct {
	cache.Cache
	calls *atomic.Int64
}

func (c counted) Get(ctx context.Context, key string) ([]byte, error) {
	c.calls.Add(1)
	return c.Cache.Get(ctx, key)
}

type countedLimiter struct {
	cache.Limiter
	calls *atomic.Int64
}

func (l countedLimiter) Allow(ctx context.Context, key string, limit cache.Limit) (cache.Result, error) {
	l.calls.Add(1)
	return l.Limiter.Allow(ctx, key, limit)
}

func TestUserAdapterRunsTheSuites(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	newCache := func(t *testing.T, prefix string) cache.Cache {
		m, err := memory.New(memory.Config{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		return counted{Cache: m, calls: &calls}
	}
	newLimiter := func(t *testing.T, prefix string) cache.Limiter {
		l, err := memory.NewLimiter(memory.LimiterConfig{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		return countedLimiter{Limiter: l, calls: &calls}
	}
	t.Run("Cache", func(t *testing.T) { cachetest.Run(t, cachetest.Features{}, newCache) })
	t.Run("Limiter", func(t *testing.T) { cachetest.RunLimiter(t, cachetest.LimiterFeatures{}, newLimiter) })
	// Each behaviour runs on its own too.
	t.Run("OneBehaviour", func(t *testing.T) {
		cachetest.TestSetGet(t, cachetest.Features{}, newCache)
	})
	t.Run("OneLimiterBehaviour", func(t *testing.T) {
		cachetest.TestLimiterIndependentKeys(t, cachetest.LimiterFeatures{}, newLimiter)
	})
	t.Cleanup(func() {
		if calls.Load() == 0 {
			t.Error("the suites never called the adapter")
		}
	})
}
