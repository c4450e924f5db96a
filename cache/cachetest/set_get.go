package cachetest

import (
	"testing"
	"time"
)

// TestSetGet checks that a value Set is what Get returns, with and without a TTL.
func TestSetGet(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	set(t, c, "k", []byte("v"), 0)
	wantValue(t, c, "k", []byte("v"))
	set(t, c, "k2", []byte("v2"), time.Hour)
	wantValue(t, c, "k2", []byte("v2"))
	wantValue(t, c, "k", []byte("v"))
}
