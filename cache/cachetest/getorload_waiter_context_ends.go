package cachetest

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestGetOrLoadWaiterContextEnds checks that a caller waiting on another's slow load returns when its own context ends, and the load goes on.
func TestGetOrLoadWaiterContextEnds(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	release := make(chan struct{})
	loading := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := c.GetOrLoad(context.Background(), "slow", time.Minute, func(context.Context) ([]byte, error) {
			close(loading)
			<-release
			return []byte("slow"), nil
		})
		done <- err
	}()
	select {
	case <-loading:
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("loader not called within 5s")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetOrLoad(ctx, "slow", time.Minute, func(context.Context) ([]byte, error) { return []byte("second"), nil })
	took := time.Since(start)
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GetOrLoad waiting on a slow load past its deadline: got %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if took > 50*time.Millisecond+prompt {
		t.Errorf("GetOrLoad with a 50ms deadline waited %v for a slow load", took)
	}
	if err := <-done; err != nil {
		t.Fatalf("the loading GetOrLoad: %v", err)
	}
	wantValue(t, c, "slow", []byte("slow"))
}
