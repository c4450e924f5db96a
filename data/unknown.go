package data

import (
	"container/list"
	"sync"
	"time"
)

// unknownCache remembers, for a while, the tenant IDs found unknown, so
// that requests naming them are answered without a resolve or a connect.
// It holds at most size IDs (the oldest dropped first) for ttl each; a
// zero size or ttl turns it off.
type unknownCache struct {
	size int
	ttl  time.Duration
	now  func() time.Time

	mu    sync.Mutex
	byID  map[string]*list.Element
	order list.List // of *unknownEntry, oldest first
}

type unknownEntry struct {
	id      string
	expires time.Time
}

func newUnknownCache(size int, ttl time.Duration) *unknownCache {
	return &unknownCache{size: size, ttl: ttl, now: time.Now, byID: map[string]*list.Element{}}
}

func (c *unknownCache) enabled() bool { return c.size > 0 && c.ttl > 0 }

// has reports whether id was found unknown less than ttl ago.
func (c *unknownCache) has(id string) bool {
	if !c.enabled() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[id]
	if !ok {
		return false
	}
	if c.now().Before(el.Value.(*unknownEntry).expires) {
		return true
	}
	c.removeLocked(el)
	return false
}

// add remembers id as unknown for ttl.
func (c *unknownCache) add(id string) {
	if !c.enabled() {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		c.removeLocked(el)
	}
	// Entries share one ttl, so the oldest expires first: drop the expired
	// ones, then, if still full, the oldest.
	for c.order.Len() > 0 {
		front := c.order.Front()
		if c.order.Len() < c.size && now.Before(front.Value.(*unknownEntry).expires) {
			break
		}
		c.removeLocked(front)
	}
	c.byID[id] = c.order.PushBack(&unknownEntry{id: id, expires: now.Add(c.ttl)})
}

// forget drops id: the tenant exists.
func (c *unknownCache) forget(id string) {
	if !c.enabled() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		c.removeLocked(el)
	}
}

func (c *unknownCache) removeLocked(el *list.Element) {
	delete(c.byID, el.Value.(*unknownEntry).id)
	c.order.Remove(el)
}
