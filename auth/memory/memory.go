// Package memory is the in-process backend of the auth stores: revoked
// token IDs and refresh-token families in maps, for a single instance or
// tests. A restart forgets everything (every refresh token and every
// revocation); instances do not share them. Both stores are bounded:
// expired entries are swept as new ones arrive, and past MaxEntries live
// entries a write fails with port.ErrStoreFull rather than grow.
package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/apexgo/apex/auth/port"
)

// DefaultMaxEntries is [Config.MaxEntries]'s default.
const DefaultMaxEntries = 1_000_000

// Config bounds a store.
type Config struct {
	// MaxEntries bounds the live entries. Default [DefaultMaxEntries].
	MaxEntries int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.MaxEntries <= 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Expired entries are swept as writes arrive, like Redis's active expiry:
// every sweepEvery writes, sweepBatch entries from a random point of the
// map (Go's iteration order) are checked, so a write costs O(1) amortized
// however large the store. A write to a full store checks every entry
// first.
const (
	sweepEvery = 64
	sweepBatch = 256
)

// Revocations is an in-process [port.Revocations].
type Revocations struct {
	cfg    Config
	mu     sync.RWMutex
	ids    map[string]time.Time
	writes int
}

var _ port.Revocations = (*Revocations)(nil)

// NewRevocations returns an empty store.
func NewRevocations(cfg Config) *Revocations {
	return &Revocations{cfg: cfg.withDefaults(), ids: map[string]time.Time{}}
}

// Revoke implements [port.Revocations].
func (r *Revocations) Revoke(ctx context.Context, id string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := r.cfg.Now()
	if !until.After(now) {
		return nil // expired already: nothing to remember
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes++
	if full := len(r.ids) >= r.cfg.MaxEntries; full || r.writes%sweepEvery == 0 {
		n := 0
		for k, u := range r.ids {
			if !u.After(now) {
				delete(r.ids, k)
			}
			if n++; !full && n >= sweepBatch {
				break
			}
		}
	}
	if old, ok := r.ids[id]; ok {
		if until.After(old) {
			r.ids[id] = until
		}
		return nil
	}
	if len(r.ids) >= r.cfg.MaxEntries {
		return fmt.Errorf("%w: %d revoked token IDs", port.ErrStoreFull, len(r.ids))
	}
	r.ids[id] = until
	return nil
}

// Revoked implements [port.Revocations].
func (r *Revocations) Revoked(ctx context.Context, id string, _ time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	r.mu.RLock()
	until, ok := r.ids[id]
	r.mu.RUnlock()
	return ok && until.After(r.cfg.Now()), nil
}

// Refresh is an in-process [port.RefreshStore].
type Refresh struct {
	cfg      Config
	mu       sync.Mutex
	families map[string]*family
	tokens   int
	writes   int
}

type family struct {
	subject   string
	data      []byte
	revoked   bool
	expires   time.Time // of the newest token
	accessID  string
	accessExp time.Time
	started   time.Time
	tokens    map[string]*token // by hash
}

type token struct {
	expires time.Time
	used    bool
}

var _ port.RefreshStore = (*Refresh)(nil)

// NewRefresh returns an empty store.
func NewRefresh(cfg Config) *Refresh {
	return &Refresh{cfg: cfg.withDefaults(), families: map[string]*family{}}
}

// sweep drops expired tokens and families, checking about sweepBatch
// families or, with all, every one; called with mu held.
func (s *Refresh) sweep(now time.Time, all bool) {
	n := 0
	for id, f := range s.families {
		if n++; !all && n > sweepBatch {
			return
		}
		if !f.expires.After(now) {
			s.tokens -= len(f.tokens)
			delete(s.families, id)
			continue
		}
		for h, t := range f.tokens {
			if !t.expires.After(now) {
				delete(f.tokens, h)
				s.tokens--
			}
		}
	}
}

// room makes sure one more token fits; called with mu held.
func (s *Refresh) room(now time.Time) error {
	s.writes++
	if full := s.tokens >= s.cfg.MaxEntries; full || s.writes%sweepEvery == 0 {
		s.sweep(now, full)
	}
	if s.tokens >= s.cfg.MaxEntries {
		return fmt.Errorf("%w: %d refresh tokens", port.ErrStoreFull, s.tokens)
	}
	return nil
}

// Create implements [port.RefreshStore].
func (s *Refresh) Create(ctx context.Context, r port.RefreshRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.room(now); err != nil {
		return err
	}
	if f, ok := s.families[r.Family]; ok {
		s.tokens -= len(f.tokens)
	}
	s.families[r.Family] = &family{
		subject: r.Subject, data: append([]byte(nil), r.Data...), expires: r.ExpiresAt,
		accessID: r.AccessID, accessExp: r.AccessExpiresAt, started: r.Started,
		tokens: map[string]*token{string(r.Hash): {expires: r.ExpiresAt}},
	}
	s.tokens++
	return nil
}

func (f *family) record(id string) port.RefreshRecord {
	return port.RefreshRecord{
		Family: id, Subject: f.subject, Data: append([]byte(nil), f.data...), ExpiresAt: f.expires,
		AccessID: f.accessID, AccessExpiresAt: f.accessExp, Started: f.started,
	}
}

// Rotate implements [port.RefreshStore].
func (s *Refresh) Rotate(ctx context.Context, id string, hash []byte, next port.RefreshRecord) (port.RefreshRecord, error) {
	if err := ctx.Err(); err != nil {
		return port.RefreshRecord{}, err
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.families[id]
	if !ok || f.revoked || !f.expires.After(now) {
		return port.RefreshRecord{}, fmt.Errorf("%w: unknown, expired or revoked", port.ErrInvalidRefresh)
	}
	// A map lookup by the SHA-256 of a 32-byte secret: its timing tells
	// nothing about the secret.
	t := f.tokens[string(hash)]
	if t == nil || !t.expires.After(now) {
		return port.RefreshRecord{}, fmt.Errorf("%w: unknown or expired", port.ErrInvalidRefresh)
	}
	if t.used {
		f.revoked = true
		return f.record(id), fmt.Errorf("%w: %w", port.ErrInvalidRefresh, port.ErrRefreshReused)
	}
	if err := s.room(now); err != nil {
		return port.RefreshRecord{}, err
	}
	old := f.record(id)
	old.Hash = append([]byte(nil), hash...)
	old.ExpiresAt = t.expires
	t.used = true
	f.tokens[string(next.Hash)] = &token{expires: next.ExpiresAt}
	s.tokens++
	if next.ExpiresAt.After(f.expires) {
		f.expires = next.ExpiresAt
	}
	f.accessID, f.accessExp = next.AccessID, next.AccessExpiresAt
	return old, nil
}

// RevokeFamily implements [port.RefreshStore].
func (s *Refresh) RevokeFamily(ctx context.Context, id string, hash []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.families[id]
	if !ok {
		return nil
	}
	if hash != nil {
		if t := f.tokens[string(hash)]; t == nil || !t.expires.After(now) {
			return nil
		}
	}
	f.revoked = true
	return nil
}
