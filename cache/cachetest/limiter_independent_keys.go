package cachetest

import (
	"testing"
	"time"

	"github.com/apexgo/apex/cache/port"
)

// TestLimiterIndependentKeys checks that keys, even ones that differ by a byte, have budgets of their own.
func TestLimiterIndependentKeys(t *testing.T, f LimiterFeatures, newLimiter NewLimiter) {
	t.Parallel()
	l := openLimiter(t, newLimiter)
	two := port.Limit{Rate: 1, Period: time.Hour, Burst: 2}
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
}
