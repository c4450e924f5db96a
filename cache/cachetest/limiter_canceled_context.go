package cachetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apexgo/apex/cache/port"
)

// TestLimiterCanceledContext checks that Allow returns context.Canceled promptly with a canceled context, with a zero Result, and does not count the event.
func TestLimiterCanceledContext(t *testing.T, f LimiterFeatures, newLimiter NewLimiter) {
	t.Parallel()
	l := openLimiter(t, newLimiter)
	one := port.Limit{Rate: 1, Period: time.Hour, Burst: 1}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	r, err := l.Allow(ctx, "k", one)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Allow with a canceled context: got %+v, %v; want an error wrapping context.Canceled", r, err)
	}
	if took := time.Since(start); took > prompt {
		t.Fatalf("Allow with a canceled context took %v", took)
	}
	if r != (port.Result{}) {
		t.Fatalf("Allow with a canceled context: got %+v with the error, want a zero Result", r)
	}
	if r, err := l.Allow(t.Context(), "k", one); err != nil || !r.Allowed {
		t.Fatalf("Allow after a canceled call: got %+v, %v; the canceled call must not count", r, err)
	}
}
