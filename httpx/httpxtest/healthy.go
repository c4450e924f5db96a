package httpxtest

import (
	"context"
	"sync"
	"testing"
	"time"
)

// HealthyPasses checks that a check against a working dependency passes.
func HealthyPasses(t *testing.T, _ Features, newCheck NewCheck) {
	c := newCheck(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Check(ctx); err != nil {
		t.Fatalf("%s: healthy check failed: %v", c.Name(), err)
	}
}

// ConcurrentCalls checks that one check passes when 20 probes run it at
// once: it must be safe for concurrent use.
func ConcurrentCalls(t *testing.T, _ Features, newCheck NewCheck) {
	c := newCheck(t, false)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			errs <- c.Check(ctx)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("%s: concurrent check failed: %v", c.Name(), err)
		}
	}
}
