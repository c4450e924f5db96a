package cachetest

import (
	"context"
	"testing"
	"time"
)

// TestEmptyValue checks that an empty or nil value is a value, not a miss, for Get and for GetOrLoad.
func TestEmptyValue(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	set(t, c, "empty", []byte{}, time.Minute)
	set(t, c, "nil", nil, time.Minute)
	wantValue(t, c, "empty", []byte{})
	wantValue(t, c, "nil", []byte{})
	loads := 0
	for range 2 {
		b, err := c.GetOrLoad(t.Context(), "loaded-empty", time.Minute, func(context.Context) ([]byte, error) {
			loads++
			return []byte{}, nil
		})
		if err != nil || len(b) != 0 {
			t.Fatalf("GetOrLoad of an empty value: got %q, %v", b, err)
		}
	}
	if loads != 1 {
		t.Fatalf("an empty loaded value was loaded %d times, want 1 (empty is a value, not a miss)", loads)
	}
}
