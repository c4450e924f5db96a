package cachetest

import (
	"testing"
	"time"
)

// TestTTLExpiry checks that an entry expires after its TTL, not before, and other entries stay.
func TestTTLExpiry(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	const ttl = 100 * time.Millisecond
	start := time.Now()
	set(t, c, "short", []byte("v"), ttl)
	set(t, c, "long", []byte("v"), time.Hour)
	b, err := c.Get(t.Context(), "short")
	if time.Since(start) < ttl/2 && (err != nil || string(b) != "v") {
		t.Fatalf("Get right after Set with ttl %v: got %q, %v", ttl, b, err)
	}
	expired := waitMiss(t, c, "short", ttl+3*time.Second)
	if early := expired.Sub(start); early < ttl {
		t.Fatalf("entry with ttl %v expired after %v", ttl, early)
	}
	wantValue(t, c, "long", []byte("v"))
}
