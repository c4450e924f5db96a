package redisconn

import (
	"cmp"
	"sync"
	"sync/atomic"
	"time"
)

// Redis sends the invalidation of a client-side (local) copy after the
// reply to the write that caused it, and possibly on another connection,
// so it can trail the write by milliseconds.
const (
	// RecentWindow is how long a write counts as recent for
	// [RecentWrites]: far longer than an invalidation takes to arrive.
	RecentWindow = time.Second
	// recentMax bounds the keys remembered one by one.
	recentMax = 1 << 14
)

// RecentWrites is the read-your-writes guard of the client-side cache:
// a backend that reads with DoCache records each key it writes (Add, even
// when the write failed: it may have happened) and reads keys that
// Contains reports with Do instead, so that a process always reads its
// own writes. Past recentMax keys within RecentWindow, every key counts
// as written for a RecentWindow. The zero value is ready; it is safe for
// concurrent use, and Contains takes no lock and, with no write in the
// last RecentWindow, reads no clock.
//
// It is read without a lock and changed under mu. Times are monotonic
// nanoseconds (clock).
type RecentWrites struct {
	until atomic.Int64 // when the last write stops counting; 0: no write counts
	all   atomic.Int64 // until when every key skips the local copy; 0: none
	keys  sync.Map     // prefixed key → int64 until when it skips the local copy

	mu  sync.Mutex
	n   atomic.Int64 // len(keys); changed under mu
	max int64        // keys remembered one by one; 0 means recentMax (tests set less)
}

// epoch is the origin of clock, so that RecentWrites needs no setup.
var epoch = time.Now()

func clock() int64 { return int64(time.Since(epoch)) }

// Add records that key was just written.
func (w *RecentWrites) Add(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := clock()
	limit := cmp.Or(w.max, recentMax)
	if w.n.Load() >= limit {
		w.prune(now)
		// Keep the set if pruning left room for limit/2 more keys, so
		// that a prune is paid for by as many adds; otherwise cover every
		// key for RecentWindow and start again.
		if w.n.Load() > limit/2 {
			w.all.Store(now + int64(RecentWindow))
			w.keys.Clear()
			w.n.Store(0)
		}
	}
	if _, loaded := w.keys.Swap(key, now+int64(RecentWindow)); !loaded {
		w.n.Add(1)
	}
	w.until.Store(now + int64(RecentWindow))
}

// prune drops the keys that no longer count; under mu.
func (w *RecentWrites) prune(now int64) {
	w.keys.Range(func(k, v any) bool {
		if v.(int64) <= now {
			w.keys.Delete(k)
			w.n.Add(-1)
		}
		return true
	})
}

// Contains reports whether key was written in the last RecentWindow (or
// counts as such after an overflow). It reads the clock only when there
// is a write to compare with: reading it costs as much as a local hit on
// some machines.
func (w *RecentWrites) Contains(key string) bool {
	until := w.until.Load()
	if until == 0 {
		return false
	}
	now := clock()
	if now >= until {
		w.forget(until)
		return false
	}
	// keys before all: add sets all before it clears keys.
	if v, ok := w.keys.Load(key); ok && now < v.(int64) {
		return true
	}
	if all := w.all.Load(); all != 0 {
		if now < all {
			return true
		}
		w.all.CompareAndSwap(all, 0)
	}
	return false
}

// forget clears w once every write in it has stopped counting, which
// until says, unless a write came meanwhile: reads then go back to
// reading no clock.
func (w *RecentWrites) forget(until int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.until.Load() != until {
		return
	}
	w.keys.Clear()
	w.n.Store(0)
	w.all.Store(0)
	w.until.Store(0)
}
