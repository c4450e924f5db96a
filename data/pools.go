package data

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"gorm.io/gorm"
)

// poolEntry is one tenant's open pool.
type poolEntry struct {
	id      string
	db      *gorm.DB
	release func() error
	refs    int // pins, under poolSet.mu
	last    atomic.Int64
}

// poolSet holds the open tenant pools: at most max of them, the least
// recently used unpinned one closed when a new one needs its place, and
// those idle past a cutoff closed by reap. Only pools already open are
// admitted, so a failed open never costs a place.
type poolSet struct {
	max int
	log *zap.Logger

	mu    sync.RWMutex
	pools map[string]*poolEntry
	// slots counts the pools holding a place: open ones (in pools) and
	// ones being closed (closing).
	slots, closing int
	waiting        int // admits waiting for a place
	freed          chan struct{}
	closed         bool
	bg             sync.WaitGroup // pools being closed

	opens, evictions atomic.Int64
}

func newPoolSet(maxOpen int, log *zap.Logger) *poolSet {
	return &poolSet{max: maxOpen, log: log, pools: map[string]*poolEntry{}, freed: make(chan struct{})}
}

// lookup returns id's open pool, marked used now and, with pin, pinned
// (see unpin); nil if none. closed reports a closed set.
func (s *poolSet) lookup(id string, pin bool) (e *poolEntry, closed bool) {
	if !pin {
		s.mu.RLock()
		defer s.mu.RUnlock()
		e = s.pools[id]
	} else {
		s.mu.Lock()
		defer s.mu.Unlock()
		if e = s.pools[id]; e != nil {
			e.refs++
		}
	}
	if e != nil {
		e.last.Store(time.Now().UnixNano())
	}
	return e, s.closed
}

// unpin ends a pin taken by lookup.
func (s *poolSet) unpin(e *poolEntry) {
	s.mu.Lock()
	e.refs--
	e.last.Store(time.Now().UnixNano())
	s.notifyLocked()
	s.mu.Unlock()
}

// admit adds id's freshly opened pool, taking a place under max: when all
// are taken it closes the least recently used unpinned pool, or waits for
// a place until ctx ends. If id is already open (a concurrent open won) or
// admit fails, the new pool is closed.
func (s *poolSet) admit(ctx context.Context, id string, db *gorm.DB, release func() error) error {
	admitted, err := s.take(ctx, id, db, release)
	if !admitted {
		if cerr := release(); cerr != nil {
			s.log.Warn("closing tenant pool", zap.String("tenant", id), zap.Error(cerr))
		}
	}
	return err
}

func (s *poolSet) take(ctx context.Context, id string, db *gorm.DB, release func() error) (admitted bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waiting++
	defer func() { s.waiting-- }()
	for {
		if s.closed {
			return false, ErrClosed
		}
		if _, open := s.pools[id]; open {
			return false, nil
		}
		if s.slots < s.max {
			break
		}
		// Pools already closing will free a place each: evict only when
		// they are fewer than the admits waiting for one.
		if s.closing < s.waiting {
			if victim := s.lruLocked(); victim != nil {
				s.removeLocked(victim)
				continue
			}
		}
		ch := s.freed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		s.mu.Lock()
		if ctx.Err() != nil && !s.closed {
			return false, fmt.Errorf("data: tenant %q: all %d tenant pools are busy: %w", id, s.max, ctx.Err())
		}
	}
	s.slots++
	e := &poolEntry{id: id, db: db, release: release}
	e.last.Store(time.Now().UnixNano())
	s.pools[id] = e
	s.opens.Add(1)
	return true, nil
}

func (s *poolSet) notifyLocked() {
	if s.waiting > 0 {
		close(s.freed)
		s.freed = make(chan struct{})
	}
}

func (s *poolSet) lruLocked() *poolEntry {
	var victim *poolEntry
	for _, e := range s.pools {
		if e.refs == 0 && (victim == nil || e.last.Load() < victim.last.Load()) {
			victim = e
		}
	}
	return victim
}

// removeLocked takes e out and closes its pool in the background; its
// place is free once the pool is closed. A statement running on it
// finishes; its connection closes then.
func (s *poolSet) removeLocked(e *poolEntry) {
	delete(s.pools, e.id)
	s.evictions.Add(1)
	s.closing++
	s.bg.Go(func() {
		if err := e.release(); err != nil {
			s.log.Warn("closing tenant pool", zap.String("tenant", e.id), zap.Error(err))
		}
		s.mu.Lock()
		s.closing--
		s.slots--
		s.notifyLocked()
		s.mu.Unlock()
	})
}

// reap closes the unpinned pools unused since cutoff.
func (s *poolSet) reap(cutoff time.Time) {
	c := cutoff.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.pools {
		if e.refs == 0 && e.last.Load() < c {
			s.removeLocked(e)
			s.log.Debug("tenant pool closed after idle_ttl", zap.String("tenant", e.id))
		}
	}
}

// close closes every pool and refuses later admits; wait waits for the
// pools being closed.
func (s *poolSet) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for _, e := range s.pools {
		s.removeLocked(e)
	}
	s.notifyLocked()
}

func (s *poolSet) wait() { s.bg.Wait() }

func (s *poolSet) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.pools)
}
