// Package port is the leaf of the cache module: the ports [Cache] and
// [Limiter], their sentinel errors and the value types in their method
// signatures, and nothing else (no helpers, no third-party imports). It
// exists so that the backends (cache/memory, cache/redis, a user's own)
// can implement the ports without importing package cache, which imports
// them. Package cache aliases every name here; user code imports cache.
package port

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors of the cache ports, for use with errors.Is. Backends
// wrap them with detail (the key, the native error).
var (
	// ErrMiss is returned by Cache.Get for a key that is absent or expired.
	ErrMiss = errors.New("cache: miss")
	// ErrInvalidTTL is returned by Cache.Set and Cache.GetOrLoad for a
	// negative ttl.
	ErrInvalidTTL = errors.New("cache: negative ttl")
	// ErrLoaderPanic is returned by Cache.GetOrLoad, to every caller
	// waiting on the load, when the loader panics. The error also wraps
	// the panic value when that is an error, and carries the loader's
	// stack.
	ErrLoaderPanic = errors.New("cache: loader panicked")
	// ErrInvalidLimit is returned by Limiter.Allow for a Limit that is not
	// Valid.
	ErrInvalidLimit = errors.New("cache: invalid rate limit")
	// ErrUnavailable is returned by any method when the backend cannot be
	// reached (Redis down, refusing or not answering). A Redis backend
	// fails fast with it while the shared Redis client knows Redis to be
	// down; the in-process backends never return it.
	ErrUnavailable = errors.New("cache: backend unavailable")
)

// Cache stores byte values under string keys, each with a time to live.
//
// Keys and values are arbitrary bytes (keys as strings); a nil value is
// stored as an empty one. Values are copied in and out: a caller may
// modify a slice it stored or got back. Backends prefix keys with their
// configured prefix, so that several services can share one Redis.
// Implementations are safe for concurrent use by any number of
// goroutines; every method honours ctx, returning an error wrapping ctx's
// error once ctx ends, and returns an error wrapping [ErrUnavailable] when
// the backend cannot be reached.
type Cache interface {
	// Get returns a copy of the value under key, or an error wrapping
	// [ErrMiss] when the key is absent or expired. Safe for concurrent
	// use; returns ctx's error once ctx ends, even for a value held in
	// process memory.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores a copy of value under key for ttl, replacing any value
	// and TTL it had; ttl 0 means no expiry and a negative ttl returns
	// [ErrInvalidTTL] without storing. Safe for concurrent use (the last
	// write wins); a reader in the same process sees the write as soon
	// as Set returns. Returns ctx's error once ctx ends; after a backend
	// error the write may or may not have happened.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key; an absent key is not an error. Safe for
	// concurrent use; a reader in the same process sees the delete as
	// soon as Delete returns. Returns ctx's error once ctx ends.
	Delete(ctx context.Context, key string) error
	// GetOrLoad returns the value under key or, on a miss, calls load
	// once per key however many callers in this process wait for it,
	// stores its result for ttl and returns a copy to each of them. An
	// error from load is returned to every waiter and not cached; a load
	// that panics returns an error wrapping [ErrLoaderPanic] instead of
	// crashing the process; a negative ttl returns [ErrInvalidTTL]
	// without calling load. Safe for concurrent use; each caller returns
	// its own ctx's error once its ctx ends, while the shared load goes
	// on for the others.
	GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) ([]byte, error)
}

// Limit is a rate: Rate events per Period, with bursts of up to Burst
// events at once (Burst ≥ 1).
type Limit struct {
	// Rate is the number of events per Period; at least 1.
	Rate int
	// Period is the time Rate events take; more than 0.
	Period time.Duration
	// Burst is how many events may come at once; at least 1.
	Burst int
}

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

// Limiter enforces rate limits with the generic cell rate algorithm
// (GCRA): one stored timestamp per key, exact admission. State for a key
// expires on its own once the key has been idle for a full burst.
type Limiter interface {
	// Allow checks whether one event for key fits limit and, if so,
	// counts it, atomically: concurrent callers, in one process or in
	// many sharing a backend, never admit more than limit allows. Safe
	// for concurrent use. It returns an error wrapping [ErrInvalidLimit]
	// for a limit that is not Valid (or allows more than one event per
	// microsecond), ctx's error once ctx ends, and an error wrapping
	// [ErrUnavailable] when the backend cannot be reached; with an error
	// the Result is zero and nothing is counted.
	Allow(ctx context.Context, key string, limit Limit) (Result, error)
}
