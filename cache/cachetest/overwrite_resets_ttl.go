package cachetest

import (
	"testing"
	"time"
)

// TestOverwriteResetsTTL checks that overwriting a key with TTL 0 drops its earlier TTL.
func TestOverwriteResetsTTL(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	const ttl = 50 * time.Millisecond
	set(t, c, "k", []byte("short"), ttl)
	set(t, c, "k", []byte("forever"), 0)
	set(t, c, "marker", []byte("m"), ttl)
	waitMiss(t, c, "marker", ttl+3*time.Second)
	time.Sleep(ttl / 2) // let any stale expiry of k pass too
	wantValue(t, c, "k", []byte("forever"))
}
