package cachetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestGetOrLoadSingleflight checks that concurrent GetOrLoad calls of one key run the loader once and all get its value.
func TestGetOrLoadSingleflight(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	const n = 50
	var loads atomic.Int32
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			<-start
			b, err := c.GetOrLoad(t.Context(), "k", time.Minute, func(context.Context) ([]byte, error) {
				loads.Add(1)
				time.Sleep(200 * time.Millisecond) // let every caller arrive
				return []byte("loaded"), nil
			})
			if err == nil && string(b) != "loaded" {
				err = fmt.Errorf("got %q, want %q", b, "loaded")
			}
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("GetOrLoad: %v", err)
		}
	}
	if got := loads.Load(); got != 1 {
		t.Fatalf("%d concurrent GetOrLoad calls ran the loader %d times, want 1", n, got)
	}
	wantValue(t, c, "k", []byte("loaded"))
}
