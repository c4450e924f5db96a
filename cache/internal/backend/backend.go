// Package backend holds what the cache backends (cache/memory and
// cache/redis) share and users never name: their Prometheus counters and
// the error of a loader that panicked.
package backend

import (
	"fmt"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apexgo/apex/cache/port"
)

// Metrics counts what a cache backend does. A nil *Metrics counts
// nothing, so backends call its methods unconditionally.
type Metrics struct {
	Hits, Misses, Loads, LoadErrors, Evictions, LocalHits prometheus.Counter
}

// NewMetrics returns counters labelled with the backend's name ("memory",
// "redis"), registered with reg when reg is not nil.
func NewMetrics(reg prometheus.Registerer, name string) (*Metrics, error) {
	mk := func(metric, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: metric, Help: help, ConstLabels: prometheus.Labels{"backend": name}})
	}
	m := &Metrics{
		Hits:       mk("apex_cache_hits_total", "Cache reads that found a value."),
		Misses:     mk("apex_cache_misses_total", "Cache reads that found nothing."),
		Loads:      mk("apex_cache_loads_total", "Loader calls made by GetOrLoad."),
		LoadErrors: mk("apex_cache_load_errors_total", "Loader calls that failed."),
		Evictions:  mk("apex_cache_evictions_total", "Entries evicted to stay within the size bound (memory backend)."),
		LocalHits:  mk("apex_cache_local_hits_total", "Reads served from the client-side cache (Redis backend)."),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.Hits, m.Misses, m.Loads, m.LoadErrors, m.Evictions, m.LocalHits} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// Hit counts a read that found a value.
func (m *Metrics) Hit() {
	if m != nil {
		m.Hits.Inc()
	}
}

// Miss counts a read that found nothing.
func (m *Metrics) Miss() {
	if m != nil {
		m.Misses.Inc()
	}
}

// Load counts a loader call.
func (m *Metrics) Load() {
	if m != nil {
		m.Loads.Inc()
	}
}

// LoadError counts a failed loader call.
func (m *Metrics) LoadError() {
	if m != nil {
		m.LoadErrors.Inc()
	}
}

// Evict counts an entry evicted for space.
func (m *Metrics) Evict() {
	if m != nil {
		m.Evictions.Inc()
	}
}

// LocalHit counts a read served from the client-side cache.
func (m *Metrics) LocalHit() {
	if m != nil {
		m.LocalHits.Inc()
	}
}

// LoaderPanic is the error a load fails with when the loader panicked
// with r (what recover returned): it wraps [port.ErrLoaderPanic] and, when
// r is an error, r too, and carries the stack of the goroutine that
// recovered (call it in the deferred function, where the loader's frames
// are still on the stack).
func LoaderPanic(r any) error {
	if err, ok := r.(error); ok {
		return fmt.Errorf("%w: %w\n\n%s", port.ErrLoaderPanic, err, debug.Stack())
	}
	return fmt.Errorf("%w: %v\n\n%s", port.ErrLoaderPanic, r, debug.Stack())
}
