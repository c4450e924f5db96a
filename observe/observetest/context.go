package observetest

import (
	"context"
	"errors"
	"testing"
	"time"
)

// CanceledContext checks that Alert with a canceled context returns at
// once with an error wrapping context.Canceled.
func CanceledContext(t *testing.T, _ Features, newHarness NewHarness) {
	h := newHarness(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	err := h.Alerter.Alert(ctx, sample("canceled"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Alert with a canceled context: got %v, want an error wrapping context.Canceled", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Alert with a canceled context took %v", took)
	}
}
