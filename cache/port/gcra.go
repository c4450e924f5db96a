package port

import "time"

// GCRA is one step of the generic cell rate algorithm, shared by every
// in-process Limiter so that they agree exactly with the Redis script.
// tat is the key's stored theoretical arrival time (zero or past: none),
// now the current time. It returns the result and, when the event is
// admitted, the new tat to store (which expires at newTAT).
func GCRA(now, tat time.Time, l Limit) (r Result, newTAT time.Time) {
	interval := l.Interval()
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	diff := now.Sub(next.Add(-interval * time.Duration(l.Burst)))
	if diff < 0 {
		return Result{RetryAfter: -diff, ResetAfter: tat.Sub(now)}, time.Time{}
	}
	r = Result{Allowed: true, Remaining: int(diff / interval), ResetAfter: next.Sub(now)}
	if r.Remaining == 0 {
		r.RetryAfter = interval - diff
	}
	return r, next
}
