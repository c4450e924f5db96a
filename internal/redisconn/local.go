package redisconn

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/maypok86/otter/v2"
	"github.com/redis/rueidis"
)

// Local is a process-local copy of some Redis keys' values, in front of
// rueidis's client-side cache: a hit is one map lookup, where a DoCache hit
// builds a command and takes rueidis's cache lock (about 1 µs for two keys).
//
// It holds only what a backend read with DoCache or DoMultiCache (so that
// Redis tracks the key for this process) and put with the mark taken
// before that read. It drops a key when Redis invalidates it (a write
// from any process, the key's expiry or eviction, the server's tracking
// table overflowing), and everything when rueidis reports the loss of
// invalidations (a connection closed, for any reason: rueidis's own
// client-side cache is dropped then too; FLUSHALL), when the shared
// client starts failing fast, and on Forget's caller's own writes. While
// the client fails fast, Get answers nothing. It is therefore exactly as
// coherent as rueidis's client-side cache: a write anywhere reaches it
// when Redis's invalidation message arrives, one network trip after the
// write; a connection that dies silently is closed by rueidis's keep-alive
// PING (redis.command_timeout after a second idle at most), and this
// flushes the Local.
//
// A Local holds the part of each key after its prefix. Reads take no
// lock; Put, Forget and invalidations take one, briefly. It is bounded
// (entries or weight, least used evicted first). It is safe for
// concurrent use.
type Local[V any] struct {
	c      *client
	prefix string
	m      *otter.Cache[string, localEntry[V]]
	// seq counts invalidations of the Local's keys (and flushes); Put
	// stores nothing if it moved since its mark. mu orders them.
	mu  sync.Mutex
	seq atomic.Uint64
}

type localEntry[V any] struct {
	v   V
	ttl time.Duration // 0: no expiry of its own
}

// LocalConfig configures a [Local].
type LocalConfig[V any] struct {
	// Prefix starts every key the Local holds; keys without it are
	// ignored. The Local holds each key under the rest.
	Prefix string
	// MaxEntries bounds the number of entries, unless Weigh is set.
	// Default 65 536.
	MaxEntries int
	// Weigh and MaxWeight bound the entries' total weight instead.
	Weigh     func(key string, v V) uint32
	MaxWeight uint64
	// Expiring lets Put give entries a deadline; without it entries stay
	// until invalidated or evicted, and Get reads no clock.
	Expiring bool
}

// DefaultLocalEntries is LocalConfig.MaxEntries's default.
const DefaultLocalEntries = 1 << 16

// NewLocal returns a Local fed by c's invalidations, or nil when c is not
// a client of [New] with client-side caching on (then DoCache reads are
// not tracked, and nothing may be kept). A nil *Local is valid: it holds
// nothing. The Local stops receiving invalidations once it is no longer
// referenced.
func NewLocal[V any](c rueidis.Client, cfg LocalConfig[V]) *Local[V] {
	cc, ok := c.(*client)
	if !ok || cc.inv == nil {
		return nil
	}
	opts := &otter.Options[string, localEntry[V]]{}
	if cfg.Weigh != nil {
		opts.MaximumWeight = cfg.MaxWeight
		opts.Weigher = func(k string, e localEntry[V]) uint32 { return cfg.Weigh(k, e.v) }
	} else {
		opts.MaximumSize = cfg.MaxEntries
		if opts.MaximumSize <= 0 {
			opts.MaximumSize = DefaultLocalEntries
		}
	}
	if cfg.Expiring {
		opts.ExpiryCalculator = otter.ExpiryWritingFunc(func(e otter.Entry[string, localEntry[V]]) time.Duration {
			if e.Value.ttl <= 0 {
				return 1<<63 - 1
			}
			return e.Value.ttl
		})
	}
	m, err := otter.New(opts)
	if err != nil {
		return nil // only for a negative bound, which the fields' types exclude
	}
	l := &Local[V]{c: cc, prefix: cfg.Prefix, m: m}
	subscribe(cc.inv, l)
	return l
}

// Mark returns the mark to give Put for a read about to start.
func (l *Local[V]) Mark() uint64 {
	if l == nil {
		return 0
	}
	return l.seq.Load()
}

// Get returns the value held for key (the part after the prefix).
func (l *Local[V]) Get(key string) (V, bool) {
	if l == nil || l.c.b.down.Load() != nil {
		var zero V
		return zero, false
	}
	e, ok := l.m.GetIfPresent(key)
	return e.v, ok
}

// Put holds v for key (the part after the prefix), read by DoCache or
// DoMultiCache after mark was taken, until ttl has passed (with
// LocalConfig.Expiring; ttl ≤ 0: no deadline) or an invalidation: unless
// an invalidation of the Local's keys or a flush came since mark, when the
// value may be stale and nothing is stored.
func (l *Local[V]) Put(mark uint64, key string, v V, ttl time.Duration) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seq.Load() != mark || l.c.b.down.Load() != nil {
		return
	}
	l.m.Set(key, localEntry[V]{v: v, ttl: ttl})
}

// Forget drops key (the part after the prefix): the caller wrote it.
// Call it once the write is done (or failed: it may have happened).
func (l *Local[V]) Forget(key string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq.Add(1)
	l.m.Invalidate(key)
}

// Len is the number of entries held (for tests).
func (l *Local[V]) Len() int {
	if l == nil {
		return 0
	}
	return l.m.EstimatedSize()
}

// invalidate drops keys (full Redis keys); nil drops everything.
func (l *Local[V]) invalidate(keys []rueidis.RedisMessage) {
	if keys == nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.seq.Add(1)
		l.m.InvalidateAll()
		return
	}
	locked := false
	for i := range keys {
		k, err := keys[i].ToString()
		rest, ok := strings.CutPrefix(k, l.prefix)
		if err != nil || !ok {
			continue
		}
		if !locked {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.seq.Add(1)
			locked = true
		}
		l.m.Invalidate(rest)
	}
}

// invalidations fans a client's invalidation messages (rueidis's
// ClientOption.OnInvalidations, nil for "everything") out to its Locals.
type invalidations struct {
	mu   sync.Mutex
	next uint64
	subs atomic.Pointer[map[uint64]func([]rueidis.RedisMessage)]
}

// deliver is the client's OnInvalidations; it runs on rueidis's reading
// goroutine and takes no lock.
func (h *invalidations) deliver(keys []rueidis.RedisMessage) {
	if subs := h.subs.Load(); subs != nil {
		for _, f := range *subs {
			f(keys)
		}
	}
}

// subscribe delivers to l until l is collected: the hub holds it weakly.
func subscribe[V any](h *invalidations, l *Local[V]) {
	wp := weak.Make(l)
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.next
	h.next++
	h.update(func(m map[uint64]func([]rueidis.RedisMessage)) {
		m[id] = func(keys []rueidis.RedisMessage) {
			if l := wp.Value(); l != nil {
				l.invalidate(keys)
			}
		}
	})
	runtime.AddCleanup(l, func(id uint64) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.update(func(m map[uint64]func([]rueidis.RedisMessage)) { delete(m, id) })
	}, id)
}

// update replaces the subscribers with a changed copy; under mu.
func (h *invalidations) update(change func(map[uint64]func([]rueidis.RedisMessage))) {
	m := map[uint64]func([]rueidis.RedisMessage){}
	if cur := h.subs.Load(); cur != nil {
		for k, v := range *cur {
			m[k] = v
		}
	}
	change(m)
	h.subs.Store(&m)
}
