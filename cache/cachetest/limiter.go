package cachetest

import (
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/cache/port"
)

// LimiterFeatures says what a [port.Limiter] backend can do and lets
// [RunLimiter] control.
type LimiterFeatures struct {
	// Shared means that two limiters built with the same prefix enforce
	// one budget together, as instances sharing a Redis do; the suite
	// then checks it. False (in-process limiters) skips that test.
	Shared bool
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

// NewLimiter returns a limiter whose keys all start with prefix, a string
// unique to the test t that the suite makes; it should delete its state
// with t.Cleanup. The suite calls it once per test, and twice with one
// prefix to check LimiterFeatures.Shared.
type NewLimiter func(t *testing.T, prefix string) port.Limiter

// RunLimiter checks that the limiters newLimiter returns honour the
// [port.Limiter] contract: GCRA's burst and steady rate, exactly on a
// controllable clock and within a tolerance on real time, invalid limits,
// independent keys, no over-admission under concurrency, state that
// resets once idle, context cancellation and, for a shared backend, one
// budget across instances. The tests that move LimiterFeatures.Clock run
// one at a time, before the parallel ones.
func RunLimiter(t *testing.T, f LimiterFeatures, newLimiter NewLimiter) {
	run(t, f, newLimiter, []behaviour[LimiterFeatures, NewLimiter]{
		{"BurstThenSteadyRate", TestLimiterBurstThenSteadyRate},
		{"ResetWhenIdle", TestLimiterResetWhenIdle},
		{"InvalidLimit", TestLimiterInvalidLimit},
		{"IndependentKeys", TestLimiterIndependentKeys},
		{"ConcurrentCallersNeverExceed", TestLimiterConcurrentCallersNeverExceed},
		{"CanceledContext", TestLimiterCanceledContext},
		{"Shared", TestLimiterShared},
	})
}

// lim is 10 events per second in bursts of 5: one event's allowance
// every 100ms, on a controllable clock.
var lim = port.Limit{Rate: 10, Period: time.Second, Burst: 5}

// realTimeLimit is lim's shape for real time, slower so that a burst of
// calls fits in one interval on a loaded machine: one event's allowance
// every 250ms.
var realTimeLimit = port.Limit{Rate: 4, Period: time.Second, Burst: 5}

const ms = time.Millisecond

func tolerance(f LimiterFeatures) time.Duration {
	if f.Tolerance <= 0 {
		return 20 * time.Millisecond
	}
	return f.Tolerance
}

// openLimiter returns a limiter for t under a prefix of its own.
func openLimiter(t *testing.T, newLimiter NewLimiter) port.Limiter {
	t.Helper()
	l := newLimiter(t, Prefix())
	if l == nil {
		t.Fatal("newLimiter returned nil")
	}
	return l
}
