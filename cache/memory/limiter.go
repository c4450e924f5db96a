package memory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/apexgo/apex/cache/port"
)

const shardCount = 64

// LimiterConfig configures an in-process Limiter.
type LimiterConfig struct {
	// MaxKeys bounds the keys tracked. Default [DefaultMaxKeys]
	// (1000000). When a shard is
	// full, a new key looks at a small random sample of its keys and drops
	// the expired ones among them or, if none, the one closest to expiring.
	MaxKeys int
	// Prefix starts every key (it matters only for parity with Redis).
	// Default none.
	Prefix string
	// Now is the clock. Default time.Now; tests pass a controllable one.
	Now func() time.Time
}

// Limiter is an in-process GCRA [port.Limiter].
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

var _ port.Limiter = (*Limiter)(nil)

// NewLimiter returns a Limiter.
func NewLimiter(cfg LimiterConfig) (*Limiter, error) {
	if cfg.MaxKeys < 0 {
		return nil, errors.New("memory: MaxKeys must not be negative")
	}
	cfg.MaxKeys = cmp.Or(cfg.MaxKeys, DefaultMaxKeys)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{perShard: max(cfg.MaxKeys/shardCount, 1), prefix: cfg.Prefix, now: cfg.Now, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].tat = make(map[string]time.Time)
	}
	return l, nil
}

// Allow implements [port.Limiter].
func (l *Limiter) Allow(ctx context.Context, key string, limit port.Limit) (port.Result, error) {
	if err := ctx.Err(); err != nil {
		return port.Result{}, err
	}
	if !limit.Valid() {
		return port.Result{}, fmt.Errorf("%w: %+v", port.ErrInvalidLimit, limit)
	}
	if limit.Interval() < time.Microsecond { // as the Redis backend, whose unit is 1µs
		return port.Result{}, fmt.Errorf("%w: more than one event per microsecond", port.ErrInvalidLimit)
	}
	key = l.prefix + key
	s := &l.shards[maphash.String(l.seed, key)%shardCount]
	s.mu.Lock()
	defer s.mu.Unlock()
	now := l.now()
	tat, known := s.tat[key]
	r, next := gcra(now, tat, limit)
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

// gcra is one step of the generic cell rate algorithm, computed exactly
// as the Redis backend's script does. tat is the key's stored theoretical
// arrival time (zero or past: none), now the current time. It returns the
// result and, when the event is admitted, the new tat to store (which
// expires at newTAT).
func gcra(now, tat time.Time, l port.Limit) (r port.Result, newTAT time.Time) {
	interval := l.Interval()
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	diff := now.Sub(next.Add(-interval * time.Duration(l.Burst)))
	if diff < 0 {
		return port.Result{RetryAfter: -diff, ResetAfter: tat.Sub(now)}, time.Time{}
	}
	r = port.Result{Allowed: true, Remaining: int(diff / interval), ResetAfter: next.Sub(now)}
	if r.Remaining == 0 {
		r.RetryAfter = interval - diff
	}
	return r, next
}
