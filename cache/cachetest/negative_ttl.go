package cachetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apexgo/apex/cache/port"
)

// TestNegativeTTL checks that a negative TTL is refused with ErrInvalidTTL by Set and GetOrLoad, which then does not call the loader.
func TestNegativeTTL(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	if err := c.Set(t.Context(), "k", []byte("v"), -time.Second); !errors.Is(err, port.ErrInvalidTTL) {
		t.Fatalf("Set with a negative ttl: got %v, want an error wrapping port.ErrInvalidTTL", err)
	}
	wantMiss(t, c, "k")
	loads := 0
	_, err := c.GetOrLoad(t.Context(), "k", -time.Millisecond, func(context.Context) ([]byte, error) {
		loads++
		return []byte("loaded"), nil
	})
	if !errors.Is(err, port.ErrInvalidTTL) {
		t.Fatalf("GetOrLoad with a negative ttl: got %v, want an error wrapping port.ErrInvalidTTL", err)
	}
	if loads != 0 {
		t.Fatalf("GetOrLoad with a negative ttl called the loader %d times", loads)
	}
	wantMiss(t, c, "k")
}
