// Package cache is apex's key/value cache and rate limiter: two small
// ports, [Cache] and [Limiter], with Redis backends (cache/redis, on the
// process's one rueidis client, optionally with server-assisted
// client-side caching) and in-process fallbacks (cache/memory), a typed
// view ([Typed]) and an echo rate-limit middleware ([RateLimits]).
// [Module] picks the backends from the "cache" config section.
//
// The port types live in the leaf package cache/port so that backends
// can implement them without importing this package; the names here are
// aliases of those, so both spellings are the same types. Every backend
// passes the conformance suites in cache/cachetest, and so can a user's
// own.
package cache

import (
	"time"

	"github.com/apexgo/apex/cache/port"
)

// Cache stores byte values under string keys with a TTL; see [port.Cache]
// for the contract.
type Cache = port.Cache

// Limiter enforces GCRA rate limits; see [port.Limiter] for the contract.
type Limiter = port.Limiter

// Limit is a rate with a burst; see [port.Limit].
type Limit = port.Limit

// Result is the outcome of one Limiter.Allow; see [port.Result].
type Result = port.Result

// Sentinel errors, for use with errors.Is; see [port] for each one's
// meaning.
var (
	// ErrMiss is returned by Get for an absent or expired key.
	ErrMiss = port.ErrMiss
	// ErrInvalidTTL is returned for a negative TTL.
	ErrInvalidTTL = port.ErrInvalidTTL
	// ErrLoaderPanic is returned by GetOrLoad when the loader panicked.
	ErrLoaderPanic = port.ErrLoaderPanic
	// ErrInvalidLimit is returned by Allow for an unenforceable Limit.
	ErrInvalidLimit = port.ErrInvalidLimit
	// ErrUnavailable is returned when the backend (Redis) cannot be
	// reached; the error also matches the shared Redis client's own
	// sentinel.
	ErrUnavailable = port.ErrUnavailable
)

// PerSecond is a Limit of rate events per second, in bursts of up to rate.
func PerSecond(rate int) Limit { return Limit{Rate: rate, Period: time.Second, Burst: rate} }

// PerMinute is a Limit of rate events per minute, in bursts of up to rate.
func PerMinute(rate int) Limit { return Limit{Rate: rate, Period: time.Minute, Burst: rate} }

// PerHour is a Limit of rate events per hour, in bursts of up to rate.
func PerHour(rate int) Limit { return Limit{Rate: rate, Period: time.Hour, Burst: rate} }
