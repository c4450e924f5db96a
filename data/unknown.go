package data

import (
	"time"

	"github.com/maypok86/otter/v2"
)

// unknownCache remembers, for a while, the tenant IDs found unknown, so
// that requests naming them are answered without a resolve or a connect.
// It holds about size IDs (otter's W-TinyLFU chooses which to drop) for
// ttl each; a zero size or ttl turns it off (a nil cache).
type unknownCache struct {
	c *otter.Cache[string, struct{}]
}

func newUnknownCache(size int, ttl time.Duration) (*unknownCache, error) {
	if size <= 0 || ttl <= 0 {
		return &unknownCache{}, nil
	}
	c, err := otter.New(&otter.Options[string, struct{}]{
		MaximumSize:      size,
		ExpiryCalculator: otter.ExpiryWriting[string, struct{}](ttl),
	})
	if err != nil {
		return nil, err
	}
	return &unknownCache{c: c}, nil
}

// has reports whether id was found unknown less than ttl ago.
func (u *unknownCache) has(id string) bool {
	if u.c == nil {
		return false
	}
	_, ok := u.c.GetIfPresent(id)
	return ok
}

// add remembers id as unknown for ttl.
func (u *unknownCache) add(id string) {
	if u.c != nil {
		u.c.Set(id, struct{}{})
	}
}

// forget drops id: the tenant exists.
func (u *unknownCache) forget(id string) {
	if u.c != nil {
		u.c.Invalidate(id)
	}
}

// close stops the cache's maintenance goroutine.
func (u *unknownCache) close() {
	if u.c != nil {
		u.c.StopAllGoroutines()
	}
}
