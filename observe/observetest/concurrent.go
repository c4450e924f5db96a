package observetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// ConcurrentCalls checks that 50 alerts sent from 10 goroutines at once
// all arrive, each once.
func ConcurrentCalls(t *testing.T, _ Features, newHarness NewHarness) {
	h := newHarness(t, false)
	const workers, each = 10, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				a := sample(fmt.Sprintf("concurrent-%d-%d", w, i))
				if err := h.Alerter.Alert(context.Background(), a); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Alert: %v", err)
	}
	got := waitFor(t, h, workers*each)
	seen := map[string]bool{}
	for _, a := range got {
		seen[a.Message] = true
	}
	if len(seen) != workers*each {
		t.Fatalf("got %d distinct alerts, want %d", len(seen), workers*each)
	}
}
