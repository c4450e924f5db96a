package cachetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/apexgo/apex/cache/port"
)

// TestLimiterBurstThenSteadyRate checks GCRA's admissions: a full burst,
// then one event per interval, with Remaining, RetryAfter and ResetAfter
// exact on a Features.Clock (moved by hand; not parallel) or within
// Features.Tolerance on real time (sleeping as told).
func TestLimiterBurstThenSteadyRate(t *testing.T, f LimiterFeatures, newLimiter NewLimiter) {
	if f.Clock != nil {
		exactBurstThenSteadyRate(t, f, newLimiter)
		return
	}
	t.Parallel()
	l := openLimiter(t, newLimiter)
	tol := tolerance(f)
	lim := realTimeLimit
	interval := lim.Interval()
	// near checks got against want, where the server may have
	// seen up to elapsed more time pass than want assumes.
	near := func(what string, got, want, elapsed time.Duration) {
		t.Helper()
		if got < want-elapsed-tol || got > want+tol {
			t.Fatalf("%s = %v, want %v (-%v elapsed, ±%v)", what, got, want, elapsed, tol)
		}
	}
	// sent is when the last Allow was sent: the backend computed its
	// result at some time after it.
	var sent time.Time
	allow := func() port.Result {
		t.Helper()
		sent = time.Now()
		r, err := l.Allow(t.Context(), "k", lim)
		if err != nil {
			t.Fatalf("Allow: %v", err)
		}
		return r
	}
	start := time.Now()
	for i := range lim.Burst {
		r := allow()
		elapsed := time.Since(start)
		if elapsed >= interval {
			t.Fatalf("the burst took %v, more than one interval (%v): too slow to check", elapsed, interval)
		}
		if !r.Allowed || r.Remaining != lim.Burst-1-i {
			t.Fatalf("burst event %d: got %+v, want allowed with %d remaining", i+1, r, lim.Burst-1-i)
		}
		near(fmt.Sprintf("burst event %d: ResetAfter", i+1), r.ResetAfter, time.Duration(i+1)*interval, elapsed)
		if i < lim.Burst-1 && r.RetryAfter != 0 {
			t.Fatalf("burst event %d: RetryAfter = %v with room to spare, want 0", i+1, r.RetryAfter)
		}
		if i == lim.Burst-1 {
			near("last burst event: RetryAfter", r.RetryAfter, interval, elapsed)
		}
	}
	r := allow()
	elapsed := time.Since(start)
	if r.Allowed || r.Remaining != 0 {
		t.Fatalf("event past the burst: got %+v, want refused", r)
	}
	near("refusal: RetryAfter", r.RetryAfter, interval, elapsed)
	near("refusal: ResetAfter", r.ResetAfter, time.Duration(lim.Burst)*interval, elapsed)
	full := time.Duration(lim.Burst) * interval
	for i := range 3 {
		// Sleeping RetryAfter must be enough; whatever passes beyond
		// it (over, counted from when the call that returned it was
		// sent, so that its way back counts too) comes off the next
		// results.
		before, sleep := sent, r.RetryAfter
		time.Sleep(sleep)
		if r = allow(); !r.Allowed || r.Remaining != 0 {
			t.Fatalf("steady event %d, after sleeping RetryAfter: got %+v, want allowed with 0 remaining", i+1, r)
		}
		over := time.Since(before) - sleep
		near(fmt.Sprintf("steady event %d: RetryAfter", i+1), r.RetryAfter, interval, over)
		near(fmt.Sprintf("steady event %d: ResetAfter", i+1), r.ResetAfter, full, over)
		if r = allow(); r.Allowed || r.Remaining != 0 {
			t.Fatalf("steady event %d: the next one was admitted too: %+v", i+1, r)
		}
		over = time.Since(before) - sleep
		near(fmt.Sprintf("steady refusal %d: RetryAfter", i+1), r.RetryAfter, interval, over)
		near(fmt.Sprintf("steady refusal %d: ResetAfter", i+1), r.ResetAfter, full, over)
	}
}

func exactBurstThenSteadyRate(t *testing.T, f LimiterFeatures, newLimiter NewLimiter) {
	l := openLimiter(t, newLimiter)
	clk := f.Clock
	step := func(what string, want port.Result) {
		t.Helper()
		r, err := l.Allow(t.Context(), "k", lim)
		if err != nil {
			t.Fatalf("%s: Allow: %v", what, err)
		}
		if r != want {
			t.Fatalf("%s: got %+v, want %+v", what, r, want)
		}
	}
	for i := range lim.Burst {
		want := port.Result{Allowed: true, Remaining: lim.Burst - 1 - i, ResetAfter: time.Duration(i+1) * 100 * ms}
		if i == lim.Burst-1 {
			want.RetryAfter = 100 * ms
		}
		step(fmt.Sprintf("burst event %d", i+1), want)
	}
	step("event past the burst", port.Result{RetryAfter: 100 * ms, ResetAfter: 500 * ms})
	step("refused again", port.Result{RetryAfter: 100 * ms, ResetAfter: 500 * ms})
	clk.Advance(99 * ms)
	step("1ms too early", port.Result{RetryAfter: 1 * ms, ResetAfter: 401 * ms})
	clk.Advance(1 * ms)
	step("on time", port.Result{Allowed: true, RetryAfter: 100 * ms, ResetAfter: 500 * ms})
	step("right after", port.Result{RetryAfter: 100 * ms, ResetAfter: 500 * ms})
	for i := range 10 {
		clk.Advance(100 * ms)
		step(fmt.Sprintf("steady event %d", i+1), port.Result{Allowed: true, RetryAfter: 100 * ms, ResetAfter: 500 * ms})
		step(fmt.Sprintf("steady refusal %d", i+1), port.Result{RetryAfter: 100 * ms, ResetAfter: 500 * ms})
	}
	// 250ms idle gives back two and a half events' allowance.
	clk.Advance(250 * ms)
	step("after 250ms", port.Result{Allowed: true, Remaining: 1, ResetAfter: 350 * ms})
	step("after 250ms, second", port.Result{Allowed: true, RetryAfter: 50 * ms, ResetAfter: 450 * ms})
	step("after 250ms, third", port.Result{RetryAfter: 50 * ms, ResetAfter: 450 * ms})
}
