// Package memory is the in-process fallback of the cache ports: a bounded
// [cache.Cache] on otter (W-TinyLFU eviction, per-entry TTL) and a GCRA
// [cache.Limiter] with sharded locks and a bounded key count.
package memory

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/maypok86/otter/v2"

	cache "github.com/apexgo/apex/cache/port"
)

// noExpiry stands for ttl 0: an entry that lives until evicted.
const noExpiry = 100 * 365 * 24 * time.Hour

// entryOverhead approximates the bytes an entry costs beyond key and value.
const entryOverhead = 64

// Config bounds a Cache.
type Config struct {
	// MaxEntries bounds the entry count. Default 100000. Ignored when
	// MaxBytes is set.
	MaxEntries int
	// MaxBytes bounds keys plus values plus a small per-entry overhead.
	MaxBytes int64
	// Prefix starts every key.
	Prefix string
	// Metrics counts hits, misses, loads and evictions; nil counts nothing.
	Metrics *cache.Metrics
}

type entry struct {
	data []byte
	ttl  time.Duration
}

// Cache is an in-process [cache.Cache].
type Cache struct {
	c       *otter.Cache[string, entry]
	prefix  string
	metrics *cache.Metrics
}

var _ cache.Cache = (*Cache)(nil)

// New returns an empty cache bounded as cfg says.
func New(cfg Config) (*Cache, error) {
	if cfg.MaxEntries < 0 || cfg.MaxBytes < 0 {
		return nil, errors.New("memory: MaxEntries and MaxBytes must not be negative")
	}
	c := &Cache{prefix: cfg.Prefix, metrics: cfg.Metrics}
	opts := &otter.Options[string, entry]{
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, entry]) time.Duration {
			if e.Value.ttl == 0 {
				return noExpiry
			}
			return e.Value.ttl
		}),
		OnDeletion: func(e otter.DeletionEvent[string, entry]) {
			if e.Cause == otter.CauseOverflow {
				c.metrics.Evict()
			}
		},
	}
	if cfg.MaxBytes > 0 {
		opts.MaximumWeight = uint64(cfg.MaxBytes)
		opts.Weigher = func(k string, v entry) uint32 {
			return uint32(min(len(k)+len(v.data)+entryOverhead, 1<<32-1))
		}
	} else {
		opts.MaximumSize = cfg.MaxEntries
		if opts.MaximumSize == 0 {
			opts.MaximumSize = 100_000
		}
	}
	oc, err := otter.New(opts)
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	c.c = oc
	return c, nil
}

// Get implements [cache.Cache]. It returns a copy of the value.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, ok := c.c.GetIfPresent(c.prefix + key)
	if !ok {
		c.metrics.Miss()
		return nil, fmt.Errorf("%w: %q", cache.ErrMiss, key)
	}
	c.metrics.Hit()
	return clone(e.data), nil
}

// Set implements [cache.Cache]. It stores a copy of value.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ttl < 0 {
		return cache.ErrInvalidTTL
	}
	c.c.Set(c.prefix+key, entry{data: clone(value), ttl: ttl})
	return nil
}

// Delete implements [cache.Cache].
func (c *Cache) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.c.Invalidate(c.prefix + key)
	return nil
}

// GetOrLoad implements [cache.Cache]; concurrent loads of one key are
// merged by otter. A loader that panics fails the load with an error
// wrapping the panic value (when it is an error) for every caller. Each
// caller gets its own copy of the value.
func (c *Cache) GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if ttl < 0 {
		return nil, cache.ErrInvalidTTL
	}
	if e, ok := c.c.GetIfPresent(c.prefix + key); ok {
		c.metrics.Hit()
		return clone(e.data), nil
	}
	c.metrics.Miss()
	e, err := c.c.Get(ctx, c.prefix+key, otter.LoaderFunc[string, entry](func(ctx context.Context, _ string) (e entry, err error) {
		// otter re-raises a loader's panic in every waiting caller.
		defer func() {
			if r := recover(); r != nil {
				c.metrics.LoadError()
				e, err = entry{}, loaderPanic(r)
			}
		}()
		c.metrics.Load()
		b, err := load(ctx)
		if err != nil {
			c.metrics.LoadError()
			return entry{}, err
		}
		return entry{data: clone(b), ttl: ttl}, nil
	}))
	if err != nil {
		return nil, err
	}
	return clone(e.data), nil
}

// loaderPanic is the error a load fails with when the loader panics with
// r: it wraps r when r is an error, and carries the loader's stack.
func loaderPanic(r any) error {
	if err, ok := r.(error); ok {
		return fmt.Errorf("cache: loader panicked: %w\n\n%s", err, debug.Stack())
	}
	return fmt.Errorf("cache: loader panicked: %v\n\n%s", r, debug.Stack())
}

// Close stops otter's background work.
func (c *Cache) Close() { c.c.StopAllGoroutines() }

func clone(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return append([]byte(nil), b...)
}
