package cachetest

import (
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/cache/port"
)

// TestLimiterConcurrentCallersNeverExceed checks that concurrent callers of one key are admitted exactly the burst, each Remaining value once.
func TestLimiterConcurrentCallersNeverExceed(t *testing.T, f LimiterFeatures, newLimiter NewLimiter) {
	t.Parallel()
	l := openLimiter(t, newLimiter)
	hourly := port.Limit{Rate: 1, Period: time.Hour, Burst: 20}
	const workers, each = 50, 5
	var (
		mu        sync.Mutex
		remaining = map[int]int{}
		admitted  int
		wg        sync.WaitGroup
	)
	errs := make(chan error, workers)
	start := make(chan struct{})
	for range workers {
		wg.Go(func() {
			<-start
			for range each {
				r, err := l.Allow(t.Context(), "shared", hourly)
				if err != nil {
					errs <- err
					return
				}
				if r.Allowed {
					mu.Lock()
					admitted++
					remaining[r.Remaining]++
					mu.Unlock()
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Allow: %v", err)
	}
	if admitted != hourly.Burst {
		t.Fatalf("%d goroutines admitted %d events in total, want exactly %d", workers, admitted, hourly.Burst)
	}
	for i := range hourly.Burst {
		if remaining[i] != 1 {
			t.Fatalf("admissions reported Remaining %v, want each of 0..%d once", remaining, hourly.Burst-1)
		}
	}
}
