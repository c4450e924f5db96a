package memory

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	cache "github.com/apexgo/apex/cache/port"
)

const shardCount = 64

// LimiterConfig configures an in-process Limiter.
type LimiterConfig struct {
	// MaxKeys bounds the keys tracked. Default 1000000. When a shard is
	// full, a new key looks at a small random sample of its keys and drops
	// the expired ones among them or, if none, the one closest to expiring.
	MaxKeys int
	// Prefix starts every key (it matters only for parity with Redis).
	Prefix string
	// Now is the clock; default time.Now. Tests pass a controllable one.
	Now func() time.Time
}

// Limiter is an in-process GCRA [cache.Limiter].
type Limiter struct {
	shards   [shardCount]limiterShard
	perShard int
	prefix   string
	now      func() time.Time
	seed     maphash.Seed
}

type limiterShard struct {
	mu  sync.Mutex
	tat map[string]time.Time
}

var _ cache.Limiter = (*Limiter)(nil)

// NewLimiter returns a Limiter.
func NewLimiter(cfg LimiterConfig) (*Limiter, error) {
	if cfg.MaxKeys < 0 {
		return nil, errors.New("memory: MaxKeys must not be negative")
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = 1_000_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{perShard: max(cfg.MaxKeys/shardCount, 1), prefix: cfg.Prefix, now: cfg.Now, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].tat = make(map[string]time.Time)
	}
	return l, nil
}

// Allow implements [cache.Limiter].
func (l *Limiter) Allow(ctx context.Context, key string, limit cache.Limit) (cache.Result, error) {
	if err := ctx.Err(); err != nil {
		return cache.Result{}, err
	}
	if !limit.Valid() {
		return cache.Result{}, fmt.Errorf("%w: %+v", cache.ErrInvalidLimit, limit)
	}
	if limit.Interval() < time.Microsecond { // as the Redis backend, whose unit is 1µs
		return cache.Result{}, fmt.Errorf("%w: more than one event per microsecond", cache.ErrInvalidLimit)
	}
	key = l.prefix + key
	s := &l.shards[maphash.String(l.seed, key)%shardCount]
	s.mu.Lock()
	defer s.mu.Unlock()
	now := l.now()
	tat, known := s.tat[key]
	r, next := cache.GCRA(now, tat, limit)
	if r.Allowed {
		if !known && len(s.tat) >= l.perShard {
			s.evict(now)
		}
		s.tat[key] = next
	}
	return r, nil
}

// evictSample bounds the keys evict looks at, so that a new key costs
// the same in a full shard of any size.
const evictSample = 32

// evict makes room for a key in a full shard. It looks at up to
// evictSample keys, from a random place (map iteration starts at one),
// and drops the expired ones among them or, if none, the one of them
// closest to expiring.
func (s *limiterShard) evict(now time.Time) {
	var (
		oldestKey string
		oldest    time.Time
	)
	dropped, seen := false, 0
	for k, t := range s.tat {
		if !t.After(now) {
			delete(s.tat, k)
			dropped = true
		} else if oldest.IsZero() || t.Before(oldest) {
			oldestKey, oldest = k, t
		}
		if seen++; seen == evictSample {
			break
		}
	}
	if !dropped && !oldest.IsZero() {
		delete(s.tat, oldestKey)
	}
}

// Len returns the number of keys tracked.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		l.shards[i].mu.Lock()
		n += len(l.shards[i].tat)
		l.shards[i].mu.Unlock()
	}
	return n
}
