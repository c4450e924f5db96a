// Package memory is the in-process fallback of the cache ports: a bounded
// [port.Cache] on otter (W-TinyLFU eviction, per-entry TTL) and a GCRA
// [port.Limiter] with sharded locks and a bounded key count. Both are
// usable without fx: New and NewLimiter apply the defaults below.
package memory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/apexgo/apex/cache/internal/backend"
	"github.com/apexgo/apex/cache/port"
)

// Defaults applied by [New] and [NewLimiter] to zero fields; the cache
// module's DefaultConfig uses the same constants.
const (
	// DefaultMaxEntries is Config.MaxEntries when zero.
	DefaultMaxEntries = 100_000
	// DefaultMaxKeys is LimiterConfig.MaxKeys when zero.
	DefaultMaxKeys = 1_000_000
)

// noExpiry stands for ttl 0: an entry that lives until evicted.
const noExpiry = 100 * 365 * 24 * time.Hour

// entryOverhead approximates the bytes an entry costs beyond key and value.
const entryOverhead = 64

// Config bounds a Cache.
type Config struct {
	// MaxEntries bounds the entry count. Default [DefaultMaxEntries]
	// (100000). Ignored when MaxBytes is set.
	MaxEntries int
	// MaxBytes, when set, bounds keys plus values plus a small per-entry
	// overhead instead. Default 0 (bound by MaxEntries).
	MaxBytes int64
	// Prefix starts every key. Default none.
	Prefix string
	// Metrics counts hits, misses, loads and evictions; the cache module
	// sets it. Default nil: nothing counted.
	Metrics *backend.Metrics
}

type entry struct {
	data []byte
	ttl  time.Duration
}

// Cache is an in-process [port.Cache].
type Cache struct {
	c       *otter.Cache[string, entry]
	prefix  string
	metrics *backend.Metrics
}

var _ port.Cache = (*Cache)(nil)

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
		opts.MaximumSize = cmp.Or(cfg.MaxEntries, DefaultMaxEntries)
	}
	oc, err := otter.New(opts)
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	c.c = oc
	return c, nil
}

// Get implements [port.Cache]. It returns a copy of the value.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, ok := c.c.GetIfPresent(c.prefix + key)
	if !ok {
		c.metrics.Miss()
		return nil, fmt.Errorf("%w: %q", port.ErrMiss, key)
	}
	c.metrics.Hit()
	return clone(e.data), nil
}

// Set implements [port.Cache]. It stores a copy of value.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ttl < 0 {
		return port.ErrInvalidTTL
	}
	c.c.Set(c.prefix+key, entry{data: clone(value), ttl: ttl})
	return nil
}

// Delete implements [port.Cache].
func (c *Cache) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.c.Invalidate(c.prefix + key)
	return nil
}

// GetOrLoad implements [port.Cache]; concurrent loads of one key are
// merged by otter. A loader that panics fails the load with an error
// wrapping [port.ErrLoaderPanic] (and the panic value, when it is an
// error) for every caller. Each
// caller gets its own copy of the value.
func (c *Cache) GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if ttl < 0 {
		return nil, port.ErrInvalidTTL
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
				e, err = entry{}, backend.LoaderPanic(r)
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

// Close stops otter's background work.
func (c *Cache) Close() { c.c.StopAllGoroutines() }

func clone(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return append([]byte(nil), b...)
}
