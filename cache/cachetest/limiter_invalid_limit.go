package cachetest

import (
	"errors"
	"testing"
	"time"

	"github.com/apexgo/apex/cache/port"
)

// TestLimiterInvalidLimit checks that an invalid Limit is refused with ErrInvalidLimit and a zero Result, and is not counted.
func TestLimiterInvalidLimit(t *testing.T, f LimiterFeatures, newLimiter NewLimiter) {
	t.Parallel()
	l := openLimiter(t, newLimiter)
	for _, bad := range []port.Limit{
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
		if !errors.Is(err, port.ErrInvalidLimit) {
			t.Errorf("Allow with %+v: got %+v, %v; want an error wrapping port.ErrInvalidLimit", bad, r, err)
		} else if r != (port.Result{}) {
			t.Errorf("Allow with %+v: got %+v with the error, want a zero Result", bad, r)
		}
	}
	if r, err := l.Allow(t.Context(), "k", port.Limit{Rate: 1, Period: time.Hour, Burst: 1}); err != nil || !r.Allowed {
		t.Fatalf("a valid limit after invalid ones: got %+v, %v; invalid calls must not count", r, err)
	}
}
