// Package redis is the Redis backend of the cache ports, on the process's
// rueidis client: a [cache.Cache] with optional server-assisted
// client-side caching, and a GCRA [cache.Limiter] run as one Lua script.
package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"golang.org/x/sync/singleflight"

	cache "github.com/apexgo/apex/cache/port"
)

// Config configures a Cache.
type Config struct {
	// Prefix starts every key, so services can share a Redis.
	Prefix string
	// ClientSide serves reads from process memory (rueidis DoCache):
	// Redis tracks the keys read and invalidates them in every client when
	// any client writes them. An entry lives locally at most LocalTTL and
	// never past its TTL in Redis.
	ClientSide bool
	// LocalTTL bounds a client-side entry. Default 1m.
	LocalTTL time.Duration
	// CommandTimeout bounds each call whose ctx has no deadline. A ctx
	// with a deadline (an apex request's, under http.timeout) is used as
	// it is: adding a second deadline would cost more than a client-side
	// hit. Default 3s.
	CommandTimeout time.Duration
	// Metrics counts hits, misses, loads and local hits; nil counts nothing.
	Metrics *cache.Metrics
}

// Cache is a [cache.Cache] in Redis.
type Cache struct {
	client  rueidis.Client
	cfg     Config
	metrics *cache.Metrics
	group   singleflight.Group
	written written
}

// Redis sends the invalidation of a local copy after the reply to the
// write that caused it, and possibly on another connection, so it can
// trail the write by milliseconds. written remembers the keys this Cache
// wrote in the last writtenFor, whose reads then skip the local copy: a
// process reads its own writes. Past writtenMax keys, every read skips it
// for writtenFor.
const (
	writtenFor = time.Second
	writtenMax = 1 << 14
)

type written struct {
	keys sync.Map // prefixed key → time.Time until which it skips the local copy
	n    atomic.Int64
	all  atomic.Int64 // UnixNano until which every key skips it
}

func (w *written) add(key string) {
	now := time.Now()
	if w.n.Load() >= writtenMax {
		w.all.Store(now.Add(writtenFor).UnixNano())
		w.keys.Clear()
		w.n.Store(0)
		return
	}
	if _, loaded := w.keys.Swap(key, now.Add(writtenFor)); !loaded {
		w.n.Add(1)
	}
}

// recent reads the clock only when there is a write to compare with:
// reading it costs as much as a local hit on some machines.
func (w *written) recent(key string) bool {
	if w.n.Load() == 0 && w.all.Load() == 0 {
		return false
	}
	if all := w.all.Load(); all != 0 && time.Now().UnixNano() < all {
		return true
	}
	v, ok := w.keys.Load(key)
	if !ok {
		return false
	}
	if time.Now().Before(v.(time.Time)) {
		return true
	}
	if w.keys.CompareAndDelete(key, v) {
		w.n.Add(-1)
	}
	return false
}

var _ cache.Cache = (*Cache)(nil)

// New returns a Cache on client.
func New(client rueidis.Client, cfg Config) (*Cache, error) {
	if client == nil {
		return nil, errors.New("redis: nil client")
	}
	if cfg.LocalTTL <= 0 {
		cfg.LocalTTL = time.Minute
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = 3 * time.Second
	}
	return &Cache{client: client, cfg: cfg, metrics: cfg.Metrics}, nil
}

func (c *Cache) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.cfg.CommandTimeout)
}

// Get implements [cache.Cache].
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil { // DoCache serves local copies without looking at ctx
		return nil, err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	k := c.cfg.Prefix + key
	var resp rueidis.RedisResult
	if c.cfg.ClientSide && !c.written.recent(k) {
		resp = c.client.DoCache(ctx, c.client.B().Get().Key(k).Cache(), c.cfg.LocalTTL)
	} else {
		resp = c.client.Do(ctx, c.client.B().Get().Key(k).Build())
	}
	b, err := resp.AsBytes()
	if rueidis.IsRedisNil(err) {
		c.metrics.Miss()
		return nil, fmt.Errorf("%w: %q", cache.ErrMiss, key)
	}
	if err != nil {
		return nil, fmt.Errorf("cache: redis GET: %w", err)
	}
	c.metrics.Hit()
	if resp.IsCacheHit() {
		c.metrics.LocalHit()
	}
	return b, nil
}

// Set implements [cache.Cache].
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		return cache.ErrInvalidTTL
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	set := c.client.B().Set().Key(c.cfg.Prefix + key).Value(rueidis.BinaryString(value))
	var cmd rueidis.Completed
	if ttl > 0 {
		cmd = set.Px(max(ttl, time.Millisecond)).Build()
	} else {
		cmd = set.Build()
	}
	err := c.client.Do(ctx, cmd).Error()
	if c.cfg.ClientSide { // even on an error: the write may have happened
		c.written.add(c.cfg.Prefix + key)
	}
	if err != nil {
		return fmt.Errorf("cache: redis SET: %w", err)
	}
	return nil
}

// Delete implements [cache.Cache].
func (c *Cache) Delete(ctx context.Context, key string) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	err := c.client.Do(ctx, c.client.B().Del().Key(c.cfg.Prefix+key).Build()).Error()
	if c.cfg.ClientSide {
		c.written.add(c.cfg.Prefix + key)
	}
	if err != nil {
		return fmt.Errorf("cache: redis DEL: %w", err)
	}
	return nil
}

// GetOrLoad implements [cache.Cache]. Loads are merged per key within this
// process; instances do not coordinate (each may load once).
func (c *Cache) GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	if ttl < 0 {
		return nil, cache.ErrInvalidTTL
	}
	b, err := c.Get(ctx, key)
	if err == nil || !errors.Is(err, cache.ErrMiss) {
		return b, err
	}
	ch := c.group.DoChan(key, func() (any, error) {
		// Another caller may have stored it between our miss and now.
		if b, err := c.Get(ctx, key); err == nil {
			return b, nil
		}
		c.metrics.Load()
		b, err := load(ctx)
		if err != nil {
			c.metrics.LoadError()
			return nil, err
		}
		if err := c.Set(ctx, key, b, ttl); err != nil {
			return nil, err
		}
		return b, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.([]byte), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
