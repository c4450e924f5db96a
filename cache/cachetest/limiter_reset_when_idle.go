package cachetest

import (
	"testing"
	"time"

	"github.com/apexgo/apex/cache/port"
)

// TestLimiterResetWhenIdle checks that a key idle for its ResetAfter has
// its full burst again (exactly on a Features.Clock; not parallel then).
func TestLimiterResetWhenIdle(t *testing.T, f LimiterFeatures, newLimiter NewLimiter) {
	if f.Clock != nil {
		exactResetWhenIdle(t, f, newLimiter)
		return
	}
	t.Parallel()
	l := openLimiter(t, newLimiter)
	small := port.Limit{Rate: 4, Period: time.Second, Burst: 3}
	full := time.Duration(small.Burst) * small.Interval()
	// Use the burst up until refused: on a loaded machine an interval
	// may pass during the calls and give one back.
	var last port.Result
	for i := 0; i == 0 || last.Allowed; i++ {
		if i > 3*small.Burst {
			t.Fatalf("%d events in a row admitted with a burst of %d", i, small.Burst)
		}
		var err error
		if last, err = l.Allow(t.Context(), "k", small); err != nil {
			t.Fatalf("Allow: %v", err)
		}
	}
	if last.ResetAfter <= 0 || last.ResetAfter > full+tolerance(f) {
		t.Fatalf("past the burst: got %+v, want refused with ResetAfter at most %v", last, full)
	}
	time.Sleep(last.ResetAfter)
	r, err := l.Allow(t.Context(), "k", small)
	if err != nil {
		t.Fatalf("Allow: %v", err)
	}
	if !r.Allowed || r.Remaining != small.Burst-1 {
		t.Fatalf("after ResetAfter idle: got %+v, want the full burst again (%d remaining)", r, small.Burst-1)
	}
}

func exactResetWhenIdle(t *testing.T, f LimiterFeatures, newLimiter NewLimiter) {
	l := openLimiter(t, newLimiter)
	small := port.Limit{Rate: 10, Period: time.Second, Burst: 3}
	var last port.Result
	for range small.Burst + 1 {
		var err error
		if last, err = l.Allow(t.Context(), "k", small); err != nil {
			t.Fatalf("Allow: %v", err)
		}
	}
	if last.Allowed || last.ResetAfter != 300*ms {
		t.Fatalf("past the burst: got %+v, want refused with ResetAfter 300ms", last)
	}
	f.Clock.Advance(last.ResetAfter)
	r, err := l.Allow(t.Context(), "k", small)
	if err != nil {
		t.Fatalf("Allow: %v", err)
	}
	if want := (port.Result{Allowed: true, Remaining: 2, ResetAfter: 100 * ms}); r != want {
		t.Fatalf("after ResetAfter idle: got %+v, want the full burst again %+v", r, want)
	}
}
