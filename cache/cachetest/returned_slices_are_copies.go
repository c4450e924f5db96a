package cachetest

import (
	"context"
	"testing"
	"time"
)

// TestReturnedSlicesAreCopies checks that slices passed to Set, returned by Get or GetOrLoad, or returned by a loader are the caller's: changing them changes nothing cached.
func TestReturnedSlicesAreCopies(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	in := []byte("value")
	set(t, c, "k", in, time.Minute)
	in[0] = 'X' // Set copies in; the later reads may come from a local copy
	for range 3 {
		b, err := c.Get(t.Context(), "k")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if string(b) != "value" {
			t.Fatalf("Get: got %q, want %q (a slice passed to Set or returned by Get changed the cached value)", b, "value")
		}
		b[0] = 'X'
	}
	b, err := c.GetOrLoad(t.Context(), "k", time.Minute, func(context.Context) ([]byte, error) { return []byte("loaded"), nil })
	if err != nil || string(b) != "value" {
		t.Fatalf("GetOrLoad of a cached key: got %q, %v", b, err)
	}
	b[0] = 'X'
	wantValue(t, c, "k", []byte("value"))

	loaded := []byte("loaded")
	b, err = c.GetOrLoad(t.Context(), "l", time.Minute, func(context.Context) ([]byte, error) { return loaded, nil })
	if err != nil || string(b) != "loaded" {
		t.Fatalf("GetOrLoad: got %q, %v", b, err)
	}
	b[0] = 'X'
	loaded[1] = 'X'
	wantValue(t, c, "l", []byte("loaded"))
}
