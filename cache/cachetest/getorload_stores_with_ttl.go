package cachetest

import (
	"context"
	"testing"
	"time"
)

// TestGetOrLoadStoresWithTTL checks that GetOrLoad stores the loaded value with its TTL.
func TestGetOrLoadStoresWithTTL(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	const ttl = 100 * time.Millisecond
	start := time.Now()
	b, err := c.GetOrLoad(t.Context(), "k", ttl, func(context.Context) ([]byte, error) { return []byte("v"), nil })
	if err != nil || string(b) != "v" {
		t.Fatalf("GetOrLoad: got %q, %v", b, err)
	}
	got, err := c.Get(t.Context(), "k")
	if time.Since(start) < ttl/2 && (err != nil || string(got) != "v") {
		t.Fatalf("Get after GetOrLoad: got %q, %v; the loaded value must be stored", got, err)
	}
	waitMiss(t, c, "k", ttl+3*time.Second)
}
