package cachetest

import (
	"testing"
	"time"
)

// TestLargeValue checks that a 1 MiB value comes back intact, twice (the second read may come from a local copy).
func TestLargeValue(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>8)
	}
	set(t, c, "big", big, time.Minute)
	wantValue(t, c, "big", big)
	// A second read may come from a different path (a local copy).
	wantValue(t, c, "big", big)
}
