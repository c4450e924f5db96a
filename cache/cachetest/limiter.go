package cachetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	cache "github.com/apexgo/apex/cache/port"
)

// LimiterFeatures says what a [cache.Limiter] backend lets [RunLimiter]
// control.
type LimiterFeatures struct {
	// Clock, when not nil, is the clock that every limiter newLimiter
	// returns reads (for cache/memory: LimiterConfig{Now: Clock.Now}). The
	// suite then checks GCRA's results exactly, moving Clock by hand; the
	// subtests that move it run one at a time, before the parallel ones.
	// Nil means the limiter keeps real time (Redis takes the server's): the
	// suite checks the same behaviour within Tolerance, sleeping as needed.
	Clock *FakeClock
	// Tolerance is how far a real-time limiter's RetryAfter and ResetAfter
	// may be from the exact values. Default 20ms. Unused with a Clock.
	Tolerance time.Duration
}

// FakeClock is a clock that moves only when told, for limiters whose time
// can be injected. It is safe for concurrent use.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock returns a FakeClock showing start; a zero start means
// 2026-01-01 00:00:00 UTC.
func NewFakeClock(start time.Time) *FakeClock {
	if start.IsZero() {
		start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return &FakeClock{now: start}
}

// Now returns the clock's time; pass it as a limiter's clock.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// RunLimiter checks that the backend returned by newLimiter honours the
// [cache.Limiter] contract: GCRA's burst and steady rate, exactly on a
// controllable clock and within a tolerance on real time, invalid limits,
// independent keys, no over-admission under concurrency, state that
// resets once idle, and context cancellation. newLimiter is called once
// per subtest and must return a limiter isolated from every other (a
// fresh instance, or a unique key prefix on a shared server); it should
// register cleanups with t.
func RunLimiter(t *testing.T, f LimiterFeatures, newLimiter func(t *testing.T) cache.Limiter) {
	if f.Tolerance <= 0 {
		f.Tolerance = 20 * time.Millisecond
	}
	// 10 per second in bursts of 5: one event's allowance every 100ms.
	lim := cache.Limit{Rate: 10, Period: time.Second, Burst: 5}
	const ms = time.Millisecond

	if f.Clock != nil {
		// Not parallel: these move the shared clock.
		t.Run("ExactBurstThenSteadyRate", func(t *testing.T) {
			l := newLimiter(t)
			clk := f.Clock
			step := func(what string, want cache.Result) {
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
				want := cache.Result{Allowed: true, Remaining: lim.Burst - 1 - i, ResetAfter: time.Duration(i+1) * 100 * ms}
				if i == lim.Burst-1 {
					want.RetryAfter = 100 * ms
				}
				step(fmt.Sprintf("burst event %d", i+1), want)
			}
			step("event past the burst", cache.Result{RetryAfter: 100 * ms, ResetAfter: 500 * ms})
			step("refused again", cache.Result{RetryAfter: 100 * ms, ResetAfter: 500 * ms})
			clk.Advance(99 * ms)
			step("1ms too early", cache.Result{RetryAfter: 1 * ms, ResetAfter: 401 * ms})
			clk.Advance(1 * ms)
			step("on time", cache.Result{Allowed: true, RetryAfter: 100 * ms, ResetAfter: 500 * ms})
			step("right after", cache.Result{RetryAfter: 100 * ms, ResetAfter: 500 * ms})
			for i := range 10 {
				clk.Advance(100 * ms)
				step(fmt.Sprintf("steady event %d", i+1), cache.Result{Allowed: true, RetryAfter: 100 * ms, ResetAfter: 500 * ms})
				step(fmt.Sprintf("steady refusal %d", i+1), cache.Result{RetryAfter: 100 * ms, ResetAfter: 500 * ms})
			}
			// 250ms idle gives back two and a half events' allowance.
			clk.Advance(250 * ms)
			step("after 250ms", cache.Result{Allowed: true, Remaining: 1, ResetAfter: 350 * ms})
			step("after 250ms, second", cache.Result{Allowed: true, RetryAfter: 50 * ms, ResetAfter: 450 * ms})
			step("after 250ms, third", cache.Result{RetryAfter: 50 * ms, ResetAfter: 450 * ms})
		})

		t.Run("ExactResetWhenIdle", func(t *testing.T) {
			l := newLimiter(t)
			small := cache.Limit{Rate: 10, Period: time.Second, Burst: 3}
			var last cache.Result
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
			if want := (cache.Result{Allowed: true, Remaining: 2, ResetAfter: 100 * ms}); r != want {
				t.Fatalf("after ResetAfter idle: got %+v, want the full burst again %+v", r, want)
			}
		})
	} else {
		t.Run("BurstThenSteadyRate", func(t *testing.T) {
			t.Parallel()
			l := newLimiter(t)
			tol := f.Tolerance
			interval := lim.Interval()
			// near checks got against want, where the server may have
			// seen up to elapsed more time pass than want assumes.
			near := func(what string, got, want, elapsed time.Duration) {
				t.Helper()
				if got < want-elapsed-tol || got > want+tol {
					t.Fatalf("%s = %v, want %v (-%v elapsed, ±%v)", what, got, want, elapsed, tol)
				}
			}
			allow := func() cache.Result {
				t.Helper()
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
				// Sleeping RetryAfter must be enough; whatever passes
				// beyond it (over) comes off the next results.
				before, sleep := time.Now(), r.RetryAfter
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
		})

		t.Run("ResetWhenIdle", func(t *testing.T) {
			t.Parallel()
			l := newLimiter(t)
			small := cache.Limit{Rate: 10, Period: time.Second, Burst: 3}
			var last cache.Result
			for range small.Burst + 1 {
				var err error
				if last, err = l.Allow(t.Context(), "k", small); err != nil {
					t.Fatalf("Allow: %v", err)
				}
			}
			if last.Allowed || last.ResetAfter <= 0 || last.ResetAfter > 300*ms+f.Tolerance {
				t.Fatalf("past the burst: got %+v, want refused with ResetAfter about 300ms", last)
			}
			time.Sleep(last.ResetAfter)
			r, err := l.Allow(t.Context(), "k", small)
			if err != nil {
				t.Fatalf("Allow: %v", err)
			}
			if !r.Allowed || r.Remaining != small.Burst-1 {
				t.Fatalf("after ResetAfter idle: got %+v, want the full burst again (%d remaining)", r, small.Burst-1)
			}
		})
	}

	t.Run("InvalidLimit", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		for _, bad := range []cache.Limit{
			{},
			{Rate: 0, Period: time.Second, Burst: 1},
			{Rate: -1, Period: time.Second, Burst: 1},
			{Rate: 1, Period: 0, Burst: 1},
			{Rate: 1, Period: -time.Second, Burst: 1},
			{Rate: 1, Period: time.Second, Burst: 0},
			{Rate: 1, Period: time.Second, Burst: -3},
			{Rate: 10, Period: 5 * time.Nanosecond, Burst: 1}, // an interval of 0
		} {
			r, err := l.Allow(t.Context(), "k", bad)
			if !errors.Is(err, cache.ErrInvalidLimit) {
				t.Errorf("Allow with %+v: got %+v, %v; want an error wrapping cache.ErrInvalidLimit", bad, r, err)
			} else if r != (cache.Result{}) {
				t.Errorf("Allow with %+v: got %+v with the error, want a zero Result", bad, r)
			}
		}
		if r, err := l.Allow(t.Context(), "k", cache.Limit{Rate: 1, Period: time.Hour, Burst: 1}); err != nil || !r.Allowed {
			t.Fatalf("a valid limit after invalid ones: got %+v, %v; invalid calls must not count", r, err)
		}
	})

	t.Run("IndependentKeys", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		two := cache.Limit{Rate: 1, Period: time.Hour, Burst: 2}
		for i, want := range []bool{true, true, false, false} {
			r, err := l.Allow(t.Context(), "user:1", two)
			if err != nil || r.Allowed != want {
				t.Fatalf("user:1 event %d: got %+v, %v; want allowed=%v", i+1, r, err, want)
			}
		}
		for _, k := range []string{"user:10", "user:", "user:1\x00", "USER:1"} {
			r, err := l.Allow(t.Context(), k, two)
			if err != nil || !r.Allowed || r.Remaining != 1 {
				t.Fatalf("%q after user:1 was exhausted: got %+v, %v; want allowed with 1 remaining", k, r, err)
			}
		}
		if r, err := l.Allow(t.Context(), "user:1", two); err != nil || r.Allowed {
			t.Fatalf("user:1 after other keys: got %+v, %v; want still refused", r, err)
		}
	})

	t.Run("ConcurrentCallersNeverExceed", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		hourly := cache.Limit{Rate: 1, Period: time.Hour, Burst: 20}
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
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		one := cache.Limit{Rate: 1, Period: time.Hour, Burst: 1}
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
		if r != (cache.Result{}) {
			t.Fatalf("Allow with a canceled context: got %+v with the error, want a zero Result", r)
		}
		if r, err := l.Allow(t.Context(), "k", one); err != nil || !r.Allowed {
			t.Fatalf("Allow after a canceled call: got %+v, %v; the canceled call must not count", r, err)
		}
	})
}
