// Package port defines the cache module's ports, [Cache] and [Limiter],
// with their sentinel errors, the GCRA arithmetic, the typed helper and
// backend metrics. It is a leaf package so that the backends (cache/redis,
// cache/memory, a user's own) and the cache module can share it; package
// cache re-exports every name, and user code should import cache.
package port

import (
	"context"
	"errors"
	"time"
)

// ErrMiss is returned by Get for a key that is absent or expired, for use
// with errors.Is.
var ErrMiss = errors.New("cache: miss")

// Cache stores byte values under string keys, each with a time to live.
//
// Get returns the value, or an error wrapping [ErrMiss] when the key is
// absent or expired. Set stores value under key for ttl; ttl 0 means no
// expiry and a negative ttl is an error. Set overwrites. Delete removes
// key and is not an error when key is absent. GetOrLoad returns the cached
// value or, on a miss, calls load once per key however many callers are
// waiting in this process, stores its result for ttl and returns it to
// all of them; an error from load is returned and not cached.
//
// Keys and values are arbitrary bytes (keys as strings). Values are
// copied in and out: a caller may modify a slice it stored or got back.
// A loader that panics makes GetOrLoad return an error to every waiter
// instead of crashing the process. Every method honours ctx: it returns
// ctx's error once ctx ends. Backends prefix keys with their configured
// prefix, so several services can share one Redis. Implementations are
// safe for concurrent use.
type Cache interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Delete(ctx context.Context, key string) error
	GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) ([]byte, error)
}

// ErrInvalidTTL is returned by Set and GetOrLoad for a negative ttl.
var ErrInvalidTTL = errors.New("cache: negative ttl")

// Limit is a rate: Rate events per Period, with bursts of up to Burst
// events at once (Burst ≥ 1).
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// PerSecond, PerMinute and PerHour build a Limit with burst equal to rate.
func PerSecond(rate int) Limit { return Limit{Rate: rate, Period: time.Second, Burst: rate} }

// PerMinute is [PerSecond] over a minute.
func PerMinute(rate int) Limit { return Limit{Rate: rate, Period: time.Minute, Burst: rate} }

// PerHour is [PerSecond] over an hour.
func PerHour(rate int) Limit { return Limit{Rate: rate, Period: time.Hour, Burst: rate} }

// Valid reports whether l can be enforced.
func (l Limit) Valid() bool { return l.Rate > 0 && l.Period > 0 && l.Burst > 0 }

// Interval is the time one event's allowance takes to come back.
func (l Limit) Interval() time.Duration { return l.Period / time.Duration(l.Rate) }

// Result is the outcome of one [Limiter.Allow].
type Result struct {
	// Allowed reports whether the event was admitted (and counted).
	Allowed bool
	// Remaining is how many more events would be admitted right now.
	Remaining int
	// RetryAfter is how long until the next event would be admitted; 0
	// when Allowed with room to spare.
	RetryAfter time.Duration
	// ResetAfter is how long until the full burst is available again.
	ResetAfter time.Duration
}

// ErrInvalidLimit is returned by Allow for a Limit that is not Valid.
var ErrInvalidLimit = errors.New("cache: invalid rate limit")

// Limiter enforces rate limits with the generic cell rate algorithm
// (GCRA): one stored timestamp per key, exact admission.
//
// Allow checks whether one event for key fits limit and, if so, counts
// it, atomically: concurrent callers in one process or many never admit
// more than the limit allows. It returns an error wrapping
// [ErrInvalidLimit] for an invalid limit, ctx's error once ctx ends, and
// a backend error (Redis unreachable) otherwise; the Result is then zero.
// State for a key expires on its own once the key is idle for a full
// burst. Implementations are safe for concurrent use.
type Limiter interface {
	Allow(ctx context.Context, key string, limit Limit) (Result, error)
}
