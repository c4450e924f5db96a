package cachetest

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestCanceledContext checks that every method returns context.Canceled promptly with a canceled context, even for a value held locally.
func TestCanceledContext(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	// A key that has been read, so that a local copy (if any) is warm.
	set(t, c, "k", []byte("v"), time.Minute)
	wantValue(t, c, "k", []byte("v"))
	wantValue(t, c, "k", []byte("v"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := c.Get(ctx, "k"); return err }},
		{"Get absent", func() error { _, err := c.Get(ctx, "absent"); return err }},
		{"GetOrLoad hit", func() error {
			_, err := c.GetOrLoad(ctx, "k", time.Minute, func(context.Context) ([]byte, error) { return nil, nil })
			return err
		}},
		{"GetOrLoad", func() error {
			_, err := c.GetOrLoad(ctx, "absent", time.Minute, func(context.Context) ([]byte, error) {
				t.Error("GetOrLoad with a canceled context called the loader")
				return []byte("loaded"), nil
			})
			return err
		}},
		{"Set", func() error { return c.Set(ctx, "k", []byte("w"), time.Minute) }},
		{"Delete", func() error { return c.Delete(ctx, "k") }},
	}
	for _, tc := range calls {
		name := tc.name
		start := time.Now()
		err := tc.call()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: got %v, want an error wrapping context.Canceled", name, err)
		}
		if took := time.Since(start); took > prompt {
			t.Errorf("%s with a canceled context took %v", name, took)
		}
	}
}
