package memory

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apexgo/apex/cache/port"
)

func TestGCRASequence(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := port.Limit{Rate: 10, Period: time.Second, Burst: 5} // one allowance per 100ms
	var tat time.Time                                        // none stored yet
	for i, s := range []struct {
		at      time.Duration // since t0
		want    port.Result
		wantTAT time.Duration // since t0; only when allowed
	}{
		{0, port.Result{Allowed: true, Remaining: 4, ResetAfter: 100 * ms}, 100 * ms},
		{0, port.Result{Allowed: true, Remaining: 3, ResetAfter: 200 * ms}, 200 * ms},
		{0, port.Result{Allowed: true, Remaining: 2, ResetAfter: 300 * ms}, 300 * ms},
		{0, port.Result{Allowed: true, Remaining: 1, ResetAfter: 400 * ms}, 400 * ms},
		{0, port.Result{Allowed: true, Remaining: 0, RetryAfter: 100 * ms, ResetAfter: 500 * ms}, 500 * ms},
		{0, port.Result{RetryAfter: 100 * ms, ResetAfter: 500 * ms}, 0},
		{99 * ms, port.Result{RetryAfter: 1 * ms, ResetAfter: 401 * ms}, 0},
		{100 * ms, port.Result{Allowed: true, RetryAfter: 100 * ms, ResetAfter: 500 * ms}, 600 * ms},
		{150 * ms, port.Result{RetryAfter: 50 * ms, ResetAfter: 450 * ms}, 0},
		{450 * ms, port.Result{Allowed: true, Remaining: 2, ResetAfter: 250 * ms}, 700 * ms},
		// Idle past the stored TAT: as if the key were new.
		{10 * time.Second, port.Result{Allowed: true, Remaining: 4, ResetAfter: 100 * ms}, 10*time.Second + 100*ms},
	} {
		r, next := gcra(t0.Add(s.at), tat, l)
		if r != s.want {
			t.Fatalf("step %d at +%v: got %+v, want %+v", i+1, s.at, r, s.want)
		}
		if !r.Allowed {
			if !next.IsZero() {
				t.Fatalf("step %d: a refusal returned a new TAT %v", i+1, next)
			}
			continue
		}
		if want := t0.Add(s.wantTAT); !next.Equal(want) {
			t.Fatalf("step %d: new TAT +%v, want +%v", i+1, next.Sub(t0), s.wantTAT)
		}
		if next.Sub(t0.Add(s.at)) != r.ResetAfter {
			t.Fatalf("step %d: the TAT must expire when the burst is back (ResetAfter %v)", i+1, r.ResetAfter)
		}
		tat = next
	}
}

func TestGCRABurstOfOne(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	l := port.Limit{Rate: 1, Period: time.Second, Burst: 1}
	r, tat := gcra(now, time.Time{}, l)
	if want := (port.Result{Allowed: true, RetryAfter: time.Second, ResetAfter: time.Second}); r != want {
		t.Fatalf("first: got %+v, want %+v", r, want)
	}
	if r, _ := gcra(now.Add(999*time.Millisecond), tat, l); r.Allowed || r.RetryAfter != time.Millisecond {
		t.Fatalf("1ms early: got %+v", r)
	}
	if r, _ := gcra(now.Add(time.Second), tat, l); !r.Allowed {
		t.Fatalf("on time: got %+v", r)
	}
}

// TestGCRANeverExceedsTheLimit: over any run of arrivals, GCRA admits at
// most Burst plus one event per interval elapsed, and a caller that keeps
// trying admits exactly that.
func TestGCRANeverExceedsTheLimit(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Unix(1_700_000_000, 0)
	for _, l := range []port.Limit{
		{Rate: 10, Period: time.Second, Burst: 5},
		{Rate: 3, Period: time.Second, Burst: 1},
		{Rate: 100, Period: time.Minute, Burst: 20},
		{Rate: 50, Period: time.Hour, Burst: 50},
	} {
		for _, greedy := range []bool{false, true} {
			var tat time.Time
			now := t0
			admitted := 0
			horizon := 50 * l.Period
			for now.Sub(t0) < horizon {
				r, next := gcra(now, tat, l)
				if r.Allowed {
					admitted++
					tat = next
				}
				if greedy && !r.Allowed {
					now = now.Add(r.RetryAfter) // come back exactly when told
				} else if greedy {
					now = now.Add(time.Duration(rng.Int64N(int64(l.Interval()) / 10)))
				} else {
					now = now.Add(time.Duration(rng.Int64N(int64(l.Interval()) * 2)))
				}
				if limit := l.Burst + int(now.Sub(t0)/l.Interval()); admitted > limit {
					t.Fatalf("%+v: %d admitted after %v, limit %d", l, admitted, now.Sub(t0), limit)
				}
			}
			if want := l.Burst + int(horizon/l.Interval()); greedy && admitted < want-1 {
				t.Fatalf("%+v: a greedy caller got %d events in %v, want about %d", l, admitted, horizon, want)
			}
		}
	}
}
