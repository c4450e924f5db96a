package cachetest

import (
	"errors"
	"testing"

	"github.com/apexgo/apex/cache/port"
)

// TestGetMissing checks that Get of a key never set returns an error wrapping ErrMiss.
func TestGetMissing(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	if b, err := c.Get(t.Context(), "absent"); !errors.Is(err, port.ErrMiss) {
		t.Fatalf("Get of an absent key: got %q, %v; want an error wrapping port.ErrMiss", b, err)
	}
}
