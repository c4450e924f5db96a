package cachetest

import (
	"testing"
	"time"
)

// TestZeroTTLNeverExpires checks that TTL 0 means no expiry.
func TestZeroTTLNeverExpires(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	const ttl = 50 * time.Millisecond
	set(t, c, "forever", []byte("v"), 0)
	set(t, c, "marker", []byte("m"), ttl)
	waitMiss(t, c, "marker", ttl+3*time.Second)
	wantValue(t, c, "forever", []byte("v"))
}
