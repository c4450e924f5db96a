// Package cache is apex's key/value cache and rate limiter: two small
// ports, [Cache] and [Limiter], with Redis backends (cache/redis, through
// the process's rueidis client from internal/redisconn, optionally with
// server-assisted client-side caching) and in-process fallbacks
// (cache/memory), plus an echo rate-limit middleware. [Module] picks the
// backends from config.
//
// The port types are defined in the leaf package cache/port so that
// backends can implement them without importing this package; the names
// here are aliases of those, so both spellings are the same types.
package cache

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

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

// Codec encodes values for [Typed]; see [port.Codec].
type Codec = port.Codec

// JSON is the default [Codec]; see [port.JSON].
type JSON = port.JSON

// Typed stores Go values of type T in a Cache; see [port.Typed].
type Typed[T any] = port.Typed[T]

// Metrics counts what a cache backend does; see [port.Metrics].
type Metrics = port.Metrics

// Sentinel errors, for use with errors.Is.
var (
	// ErrMiss is returned by Get for an absent or expired key.
	ErrMiss = port.ErrMiss
	// ErrInvalidTTL is returned for a negative TTL.
	ErrInvalidTTL = port.ErrInvalidTTL
	// ErrInvalidLimit is returned by Allow for an unenforceable Limit.
	ErrInvalidLimit = port.ErrInvalidLimit
)

// PerSecond builds a Limit of rate events per second, burst rate.
func PerSecond(rate int) Limit { return port.PerSecond(rate) }

// PerMinute builds a Limit of rate events per minute, burst rate.
func PerMinute(rate int) Limit { return port.PerMinute(rate) }

// PerHour builds a Limit of rate events per hour, burst rate.
func PerHour(rate int) Limit { return port.PerHour(rate) }

// NewTyped returns a [Typed] over c using codec (JSON when nil).
func NewTyped[T any](c Cache, codec Codec) *Typed[T] { return port.NewTyped[T](c, codec) }

// GCRA applies one event to the stored theoretical arrival time tat; see
// [port.GCRA].
func GCRA(now, tat time.Time, l Limit) (r Result, newTAT time.Time) { return port.GCRA(now, tat, l) }

// NewMetrics returns backend counters registered with reg (when not nil);
// see [port.NewMetrics].
func NewMetrics(reg prometheus.Registerer, backend string) (*Metrics, error) {
	return port.NewMetrics(reg, backend)
}
