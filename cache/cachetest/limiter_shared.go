package cachetest

import (
	"testing"
	"time"

	"github.com/apexgo/apex/cache/port"
)

// TestLimiterShared checks, for a limiter with LimiterFeatures.Shared,
// that two instances on one prefix (two processes of a service) enforce
// one budget together: the burst is admitted once in total, whichever
// instance is asked.
func TestLimiterShared(t *testing.T, f LimiterFeatures, newLimiter NewLimiter) {
	t.Parallel()
	if !f.Shared {
		t.Skip("the limiter is not shared between instances (LimiterFeatures.Shared is false)")
	}
	prefix := Prefix()
	limiters := [2]port.Limiter{newLimiter(t, prefix), newLimiter(t, prefix)}
	hourly := port.Limit{Rate: 1, Period: time.Hour, Burst: 10}
	admitted := [2]int{}
	for i := range 30 {
		r, err := limiters[i%2].Allow(t.Context(), "shared", hourly)
		if err != nil {
			t.Fatalf("Allow %d: %v", i+1, err)
		}
		if r.Allowed {
			admitted[i%2]++
		}
	}
	if admitted != [2]int{5, 5} {
		t.Fatalf("admitted %v by the two instances, want 5 each, %d in total", admitted, hourly.Burst)
	}
}
