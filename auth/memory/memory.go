// Package memory is the in-process backend of the auth stores: revoked
// token IDs, subjects' "not before" times and refresh-token families in
// maps, for a single instance or tests. A restart forgets everything
// (every refresh token and every revocation); instances do not share
// them. Both stores are bounded:
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

// Revocations is an in-process [port.Revocations]: revoked IDs and
// subjects' "not before" times, in one bounded map.
type Revocations struct {
	cfg     Config
	mu      sync.RWMutex
	entries map[revKey]revocation
	writes  int
}

// revKey is a token ID (subject false) or a subject.
type revKey struct {
	name    string
	subject bool
}

type revocation struct {
	until  time.Time // the entry vanishes then
	before time.Time // a subject's: tokens issued earlier are revoked
}

var _ port.Revocations = (*Revocations)(nil)

// NewRevocations returns an empty store.
func NewRevocations(cfg Config) *Revocations {
	return &Revocations{cfg: cfg.withDefaults(), entries: map[revKey]revocation{}}
}

// Revoke implements [port.Revocations].
func (r *Revocations) Revoke(ctx context.Context, id string, until time.Time) error {
	return r.put(ctx, revKey{name: id}, revocation{until: until})
}

// RevokeSubject implements [port.Revocations].
func (r *Revocations) RevokeSubject(ctx context.Context, subject string, before, until time.Time) error {
	return r.put(ctx, revKey{name: subject, subject: true}, revocation{until: until, before: before})
}

// put stores e under k, keeping the later until and before of an entry
// already there.
func (r *Revocations) put(ctx context.Context, k revKey, e revocation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := r.cfg.Now()
	if !e.until.After(now) {
		return nil // expired already: nothing to remember
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes++
	if full := len(r.entries) >= r.cfg.MaxEntries; full || r.writes%sweepEvery == 0 {
		n := 0
		for k, old := range r.entries {
			if !old.until.After(now) {
				delete(r.entries, k)
			}
			if n++; !full && n >= sweepBatch {
				break
			}
		}
	}
	if old, ok := r.entries[k]; ok {
		if old.until.After(e.until) {
			e.until = old.until
		}
		if old.before.After(e.before) {
			e.before = old.before
		}
		r.entries[k] = e
		return nil
	}
	if len(r.entries) >= r.cfg.MaxEntries {
		return fmt.Errorf("%w: %d revocations", port.ErrStoreFull, len(r.entries))
	}
	r.entries[k] = e
	return nil
}

// Revoked implements [port.Revocations].
func (r *Revocations) Revoked(ctx context.Context, p port.RevokedParams) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := r.cfg.Now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if p.ID != "" {
		if e, ok := r.entries[revKey{name: p.ID}]; ok && e.until.After(now) {
			return true, nil
		}
	}
	if p.Subject != "" {
		if e, ok := r.entries[revKey{name: p.Subject, subject: true}]; ok && e.until.After(now) && p.IssuedAt.Before(e.before) {
			return true, nil
		}
	}
	return false, nil
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
	// sealed is what a replay gets until graceUntil (RotateParams).
	sealed     []byte
	graceUntil time.Time
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
			} else if t.sealed != nil && !t.graceUntil.After(now) {
				t.sealed = nil
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

// find returns the family id and its unexpired token hash, if the family
// is live; called with mu held.
func (s *Refresh) find(id string, hash []byte, now time.Time) (*family, *token, error) {
	f, ok := s.families[id]
	if !ok || f.revoked || !f.expires.After(now) {
		return nil, nil, fmt.Errorf("%w: unknown, expired or revoked", port.ErrInvalidRefresh)
	}
	// A map lookup by the SHA-256 of a 32-byte secret: its timing tells
	// nothing about the secret.
	t := f.tokens[string(hash)]
	if t == nil || !t.expires.After(now) {
		return nil, nil, fmt.Errorf("%w: unknown or expired", port.ErrInvalidRefresh)
	}
	return f, t, nil
}

// Lookup implements [port.RefreshStore].
func (s *Refresh) Lookup(ctx context.Context, id string, hash []byte) (port.RefreshRecord, error) {
	if err := ctx.Err(); err != nil {
		return port.RefreshRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, t, err := s.find(id, hash, s.cfg.Now())
	if err != nil {
		return port.RefreshRecord{}, err
	}
	r := f.record(id)
	r.Hash, r.ExpiresAt = append([]byte(nil), hash...), t.expires
	return r, nil
}

// Rotate implements [port.RefreshStore].
func (s *Refresh) Rotate(ctx context.Context, p port.RotateParams) (port.RefreshRecord, error) {
	if err := ctx.Err(); err != nil {
		return port.RefreshRecord{}, err
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	f, t, err := s.find(p.Family, p.Hash, now)
	if err != nil {
		return port.RefreshRecord{}, err
	}
	if t.used {
		if t.sealed != nil && now.Before(t.graceUntil) {
			r := f.record(p.Family)
			r.Hash, r.ExpiresAt, r.Sealed = append([]byte(nil), p.Hash...), t.expires, append([]byte(nil), t.sealed...)
			return r, nil
		}
		f.revoked = true
		return f.record(p.Family), fmt.Errorf("%w: %w", port.ErrInvalidRefresh, port.ErrRefreshReused)
	}
	if err := s.room(now); err != nil {
		return port.RefreshRecord{}, err
	}
	old := f.record(p.Family)
	old.Hash = append([]byte(nil), p.Hash...)
	old.ExpiresAt = t.expires
	t.used = true
	if p.Grace > 0 && len(p.Sealed) > 0 {
		t.sealed, t.graceUntil = append([]byte(nil), p.Sealed...), now.Add(p.Grace)
	}
	f.tokens[string(p.Next.Hash)] = &token{expires: p.Next.ExpiresAt}
	s.tokens++
	if p.Next.ExpiresAt.After(f.expires) {
		f.expires = p.Next.ExpiresAt
	}
	f.accessID, f.accessExp = p.Next.AccessID, p.Next.AccessExpiresAt
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
