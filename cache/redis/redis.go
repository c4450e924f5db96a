// Package redis is the Redis backend of the cache ports, on the process's
// rueidis client: a [port.Cache] with optional server-assisted
// client-side caching, and a GCRA [port.Limiter] run as one Lua script.
// Both are usable without fx: New and NewLimiter apply the defaults below.
// On the shared client (internal/redisconn), a Redis outage makes every
// call fail fast with an error wrapping [port.ErrUnavailable].
package redis

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"golang.org/x/sync/singleflight"

	"github.com/apexgo/apex/cache/internal/backend"
	"github.com/apexgo/apex/cache/port"
	"github.com/apexgo/apex/internal/redisconn"
)

// Defaults applied by [New] to zero fields; the cache module's
// DefaultConfig uses the same constants. The command timeout's default is
// the shared Redis client's, redisconn.DefaultCommandTimeout (3s).
const (
	// DefaultLocalTTL is Config.LocalTTL when zero.
	DefaultLocalTTL = time.Minute
	// DefaultLoadTimeout is Config.LoadTimeout when zero.
	DefaultLoadTimeout = 30 * time.Second
	// DefaultLocalMaxBytes is Config.LocalMaxBytes when zero.
	DefaultLocalMaxBytes = 16 << 20
)

// Config configures a Cache.
type Config struct {
	// Prefix starts every key, so services can share a Redis. Default
	// none.
	Prefix string
	// ClientSide serves reads from process memory: read with rueidis
	// DoCache, so that Redis tracks the keys read and invalidates them in
	// every client when any client writes them, and kept in a
	// redisconn.Local (a hit is one map lookup), which a lost connection
	// or the client failing fast empties. An entry lives locally at most
	// LocalTTL and never past its TTL in Redis. Default false.
	ClientSide bool
	// LocalTTL bounds a client-side entry. Default [DefaultLocalTTL] (1m).
	LocalTTL time.Duration
	// LocalMaxBytes bounds the values (and keys) that ClientSide keeps in
	// front of rueidis's client-side cache, so that a hit is one map
	// lookup (see redisconn.Local); the least used go first. Default
	// [DefaultLocalMaxBytes] (16 MiB).
	LocalMaxBytes int
	// CommandTimeout bounds each call whose ctx has no deadline. A ctx
	// with a deadline (an apex request's, under http.timeout) is used as
	// it is: adding a second deadline would cost more than a client-side
	// hit (the shared client still bounds what it sends to Redis by
	// redis.command_timeout). Default redis.command_timeout's, 3s.
	CommandTimeout time.Duration
	// LoadTimeout bounds the load GetOrLoad shares between its callers
	// when the first caller's ctx has no deadline (one that has bounds the
	// load instead). Default [DefaultLoadTimeout] (30s).
	LoadTimeout time.Duration
	// Metrics counts hits, misses, loads and local hits; the cache module
	// sets it. Default nil: nothing counted.
	Metrics *backend.Metrics
}

// Cache is a [port.Cache] in Redis.
type Cache struct {
	client  rueidis.Client
	cfg     Config
	metrics *backend.Metrics
	group   singleflight.Group
	written redisconn.RecentWrites
	// gets holds built client-side GET commands, pinned so that rueidis
	// does not recycle them: a hot key's read then skips the prefix
	// concatenation, the command builder and its CRC16 of the key.
	gets *getCommands
	// local holds what client-side reads returned, by key without the
	// prefix, until Redis invalidates it: a hit is one map lookup. Nil
	// without ClientSide or on a client other than redisconn's.
	local *redisconn.Local[localValue]
}

// localValue is a value read with client-side caching, or its absence.
type localValue struct {
	b     []byte // rueidis's copy: never modified, never handed out
	found bool
}

// localOverhead approximates what an entry of Cache.local costs besides
// its key and value.
const localOverhead = 96

// getCommands is a direct-mapped table of pinned client-side GET
// commands, indexed by a hash of the key: a bounded memory (getSlots
// entries of keys up to getMaxKey bytes) with no lock; a colliding key
// replaces the entry.
type getCommands struct {
	seed  maphash.Seed
	slots [getSlots]atomic.Pointer[getCommand]
}

const (
	getSlots  = 1024 // a power of two
	getMaxKey = 256  // longer keys are built on every read
)

type getCommand struct {
	key string // as given to Get, without the prefix
	k   string // prefixed
	cmd rueidis.Cacheable
}

// get returns the pinned GET command of key, building it when the
// table does not hold it, or nil and the prefixed key for a key too long
// to keep.
func (g *getCommands) get(client rueidis.Client, prefix, key string) (*getCommand, string) {
	if len(key) > getMaxKey {
		return nil, prefix + key
	}
	slot := &g.slots[maphash.String(g.seed, key)&(getSlots-1)]
	if e := slot.Load(); e != nil && e.key == key {
		return e, e.k
	}
	k := prefix + key
	e := &getCommand{key: key, k: k, cmd: client.B().Get().Key(k).Cache().Pin()}
	slot.Store(e)
	return e, k
}

var _ port.Cache = (*Cache)(nil)

// New returns a Cache on client. With client-side caching the Cache
// reuses built GET commands across goroutines (pinned, so that rueidis
// never recycles them): do not pass a client built with rueidis's
// Standalone.EnableRedirect, whose redirect path returns commands to its
// pool even when pinned. apex's own client (internal/redisconn) does not
// set it.
func New(client rueidis.Client, cfg Config) (*Cache, error) {
	if client == nil {
		return nil, errors.New("redis: nil client")
	}
	if cfg.LocalTTL < 0 || cfg.CommandTimeout < 0 || cfg.LoadTimeout < 0 || cfg.LocalMaxBytes < 0 {
		return nil, errors.New("redis: LocalTTL, LocalMaxBytes, CommandTimeout and LoadTimeout must not be negative")
	}
	cfg.LocalTTL = cmp.Or(cfg.LocalTTL, DefaultLocalTTL)
	cfg.CommandTimeout = cmp.Or(cfg.CommandTimeout, redisconn.DefaultCommandTimeout)
	cfg.LoadTimeout = cmp.Or(cfg.LoadTimeout, DefaultLoadTimeout)
	cfg.LocalMaxBytes = cmp.Or(cfg.LocalMaxBytes, DefaultLocalMaxBytes)
	c := &Cache{client: client, cfg: cfg, metrics: cfg.Metrics}
	if cfg.ClientSide {
		c.gets = &getCommands{seed: maphash.MakeSeed()}
		c.local = redisconn.NewLocal(client, redisconn.LocalConfig[localValue]{
			Prefix: cfg.Prefix, Expiring: true, MaxWeight: uint64(cfg.LocalMaxBytes),
			Weigh: func(k string, v localValue) uint32 { return uint32(min(len(k)+len(v.b)+localOverhead, 1<<32-1)) },
		})
	}
	return c, nil
}

func (c *Cache) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.cfg.CommandTimeout)
}

// Get implements [port.Cache]. The slice returned is the caller's.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil { // DoCache serves local copies without looking at ctx
		return nil, err
	}
	if v, ok := c.local.Get(key); ok {
		if !v.found {
			c.metrics.Miss()
			return nil, fmt.Errorf("%w: %q", port.ErrMiss, key)
		}
		c.metrics.Hit()
		c.metrics.LocalHit()
		return bytes.Clone(v.b), nil
	}
	mark := c.local.Mark()
	ctx, cancel := c.bound(ctx)
	defer cancel()
	var resp rueidis.RedisResult
	local := false
	if c.gets != nil {
		g, k := c.gets.get(c.client, c.cfg.Prefix, key)
		switch local = !c.written.Contains(k); {
		case local && g != nil:
			resp = c.client.DoCache(ctx, g.cmd, c.cfg.LocalTTL)
		case local:
			resp = c.client.DoCache(ctx, c.client.B().Get().Key(k).Cache(), c.cfg.LocalTTL)
		default:
			resp = c.client.Do(ctx, c.client.B().Get().Key(k).Build())
		}
	} else {
		resp = c.client.Do(ctx, c.client.B().Get().Key(c.cfg.Prefix+key).Build())
	}
	b, err := resp.AsBytes()
	if local && (err == nil || rueidis.IsRedisNil(err)) {
		// Tracked by Redis: kept until invalidated, and no longer than
		// rueidis keeps it (LocalTTL, or the key's TTL in Redis if sooner).
		ttl := c.cfg.LocalTTL
		if at := resp.CachePXAT(); at > 0 {
			ttl = time.Until(time.UnixMilli(at))
		}
		if ttl > 0 {
			c.local.Put(mark, key, localValue{b: b, found: err == nil}, ttl)
		}
	}
	if local {
		b = bytes.Clone(b) // b is the local copy's memory
	}
	if rueidis.IsRedisNil(err) {
		c.metrics.Miss()
		return nil, fmt.Errorf("%w: %q", port.ErrMiss, key)
	}
	if err != nil {
		return nil, failed("GET", err)
	}
	c.metrics.Hit()
	if resp.IsCacheHit() {
		c.metrics.LocalHit()
	}
	return b, nil
}

// Set implements [port.Cache].
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		return port.ErrInvalidTTL
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
		c.written.Add(c.cfg.Prefix + key)
		c.local.Forget(key) // after Add: a read from now on skips both caches
	}
	if err != nil {
		return failed("SET", err)
	}
	return nil
}

// Delete implements [port.Cache].
func (c *Cache) Delete(ctx context.Context, key string) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	err := c.client.Do(ctx, c.client.B().Del().Key(c.cfg.Prefix+key).Build()).Error()
	if c.cfg.ClientSide {
		c.written.Add(c.cfg.Prefix + key)
		c.local.Forget(key)
	}
	if err != nil {
		return failed("DEL", err)
	}
	return nil
}

// GetOrLoad implements [port.Cache]. Loads are merged per key within this
// process; instances do not coordinate (each may load once).
//
// The merged load outlives the caller that started it: it runs with that
// caller's ctx values but not its cancellation, until that ctx's deadline
// or, without one, for at most Config.LoadTimeout. Each caller still
// returns its own ctx's error once its ctx ends. A loader that panics
// fails the load with an error wrapping [port.ErrLoaderPanic] (and the
// panic value, when it is an error) for every caller. When storing the loaded value fails, the value
// is returned all the same and the next call loads again.
func (c *Cache) GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	if ttl < 0 {
		return nil, port.ErrInvalidTTL
	}
	b, err := c.Get(ctx, key)
	if err == nil || !errors.Is(err, port.ErrMiss) {
		return b, err
	}
	ch := c.group.DoChan(key, func() (any, error) { return c.load(ctx, key, ttl, load) })
	var res singleflight.Result
	select {
	case res = <-ch:
	case <-ctx.Done():
		select {
		case res = <-ch: // a load that has ended wins
		default:
			return nil, ctx.Err()
		}
	}
	if res.Err != nil {
		return nil, res.Err
	}
	// Callers share the loaded slice: each gets its own.
	return bytes.Clone(res.Val.([]byte)), nil
}

// load is the load that GetOrLoad's callers share, started by the one
// whose ctx is given.
func (c *Cache) load(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) (b []byte, err error) {
	// singleflight re-raises a panic in a goroutine of its own, which
	// nothing can recover: the process would end.
	defer func() {
		if r := recover(); r != nil {
			c.metrics.LoadError()
			b, err = nil, backend.LoaderPanic(r)
		}
	}()
	var cancel context.CancelFunc
	if deadline, ok := ctx.Deadline(); ok {
		ctx, cancel = context.WithDeadline(context.WithoutCancel(ctx), deadline)
	} else {
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), c.cfg.LoadTimeout)
	}
	defer cancel()

	// Another caller may have stored it between our miss and now.
	cmd, cancelCmd := context.WithTimeout(ctx, c.cfg.CommandTimeout)
	b, err = c.Get(cmd, key)
	cancelCmd()
	if err == nil {
		return b, nil
	}
	c.metrics.Load()
	b, err = load(ctx)
	if err != nil {
		c.metrics.LoadError()
		return nil, err
	}
	if b == nil {
		b = []byte{}
	}
	// A failed store is not the callers' concern: they have the value.
	cmd, cancelCmd = context.WithTimeout(ctx, c.cfg.CommandTimeout)
	_ = c.Set(cmd, key, b, ttl)
	cancelCmd()
	return b, nil
}

// failed is the error of a failed Redis command op: while the shared
// client knows Redis to be down, it wraps [port.ErrUnavailable] as well as
// redisconn.ErrUnavailable and the cause.
func failed(op string, err error) error {
	if errors.Is(err, redisconn.ErrUnavailable) {
		return fmt.Errorf("cache: redis %s: %w: %w", op, port.ErrUnavailable, err)
	}
	return fmt.Errorf("cache: redis %s: %w", op, err)
}
