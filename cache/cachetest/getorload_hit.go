package cachetest

import (
	"context"
	"testing"
	"time"
)

// TestGetOrLoadHit checks that GetOrLoad of a cached key does not call the loader.
func TestGetOrLoadHit(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	set(t, c, "k", []byte("cached"), time.Minute)
	b, err := c.GetOrLoad(t.Context(), "k", time.Minute, func(context.Context) ([]byte, error) {
		t.Error("loader called for a cached key")
		return []byte("loaded"), nil
	})
	if err != nil || string(b) != "cached" {
		t.Fatalf("GetOrLoad of a cached key: got %q, %v", b, err)
	}
}
