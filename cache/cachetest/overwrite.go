package cachetest

import (
	"testing"
	"time"
)

// TestOverwrite checks that Set replaces a key's value, whatever the lengths.
func TestOverwrite(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	set(t, c, "k", []byte("first"), time.Hour)
	wantValue(t, c, "k", []byte("first"))
	set(t, c, "k", []byte("second, longer"), time.Hour)
	wantValue(t, c, "k", []byte("second, longer"))
	set(t, c, "k", []byte("3"), 0)
	wantValue(t, c, "k", []byte("3"))
}
