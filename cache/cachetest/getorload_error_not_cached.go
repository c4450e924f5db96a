package cachetest

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestGetOrLoadErrorNotCached checks that a loader's error is returned, and not cached.
func TestGetOrLoadErrorNotCached(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	boom := errors.New("loader failed")
	loads := 0
	load := func(fail bool) func(context.Context) ([]byte, error) {
		return func(context.Context) ([]byte, error) {
			loads++
			if fail {
				return nil, boom
			}
			return []byte("ok"), nil
		}
	}
	if b, err := c.GetOrLoad(t.Context(), "k", time.Minute, load(true)); !errors.Is(err, boom) {
		t.Fatalf("GetOrLoad with a failing loader: got %q, %v; want an error wrapping the loader's", b, err)
	}
	wantMiss(t, c, "k")
	if b, err := c.GetOrLoad(t.Context(), "k", time.Minute, load(false)); err != nil || string(b) != "ok" {
		t.Fatalf("GetOrLoad after a failed load: got %q, %v", b, err)
	}
	if loads != 2 {
		t.Fatalf("loader ran %d times, want 2: a failed load must not be cached", loads)
	}
	if b, err := c.GetOrLoad(t.Context(), "k", time.Minute, load(true)); err != nil || string(b) != "ok" {
		t.Fatalf("GetOrLoad after a successful load: got %q, %v", b, err)
	}
	if loads != 2 {
		t.Fatal("GetOrLoad called the loader for a cached key")
	}
}
