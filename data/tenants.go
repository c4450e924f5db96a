package data

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
	"gorm.io/gorm"
)

// tenants serves Registry.DB and Pin with tenancy on: a tenant's pool
// comes from the pool set if open; otherwise it is opened (concurrent
// first requests share one open) and admitted. IDs found unknown are
// remembered for a while.
type tenants struct {
	cfg    TenancyConfig
	log    *zap.Logger
	idRoom int // longest ID not listed in cfg.Tenants, see TenantIDPattern

	pools   *poolSet
	opener  *opener
	unknown *unknownCache
	sf      singleflight.Group

	stop        chan struct{}
	startOnce   sync.Once
	closeOnce   sync.Once
	reaper      sync.WaitGroup
	unknownHits atomic.Int64
}

func newTenants(d *Databases, r TenantResolver) (*tenants, error) {
	cfg := d.cfg.Tenancy
	cfg.Pool = cfg.Pool.inherit(d.cfg.Pool)
	unknown, err := newUnknownCache(cfg.UnknownCacheSize, cfg.UnknownTTL)
	if err != nil {
		return nil, fmt.Errorf("data.tenancy.unknown_cache_size: %w", err)
	}
	log := d.p.Log.Named("data.tenancy")
	t := &tenants{
		cfg: cfg, log: log, idRoom: maxIdent,
		pools:   newPoolSet(cfg.MaxOpen, log),
		opener:  newOpener(d, cfg, r, log),
		unknown: unknown,
		stop:    make(chan struct{}),
	}
	if r == nil || isConfigResolver(r) {
		t.idRoom, _ = cfg.idRoom()
	}
	return t, nil
}

// validID reports whether id is a tenant ID this registry accepts: it
// matches TenantIDPattern and, unless listed in data.tenancy.tenants,
// fits the templates (see TenantIDPattern).
func (t *tenants) validID(id string) bool {
	if !ValidTenantID(id) {
		return false
	}
	if len(id) <= t.idRoom {
		return true
	}
	_, listed := t.cfg.Tenants[id]
	return listed
}

// start closes idle pools in the background until close.
func (t *tenants) start() {
	t.startOnce.Do(func() {
		t.reaper.Go(func() {
			tick := time.NewTicker(idleEvery(t.cfg.IdleTTL))
			defer tick.Stop()
			for {
				select {
				case <-t.stop:
					return
				case <-tick.C:
					t.pools.reap(time.Now().Add(-t.cfg.IdleTTL))
				}
			}
		})
	})
}

// get returns id's open pool, opening it if need be; with pin, pinned
// until unpin.
func (t *tenants) get(ctx context.Context, id string, pin bool) (*poolEntry, error) {
	if !t.validID(id) {
		return nil, ErrInvalidTenant
	}
	for {
		e, closed := t.pools.lookup(id, pin)
		if e != nil {
			return e, nil
		}
		if closed {
			return nil, ErrClosed
		}
		// An ID found unknown a moment ago costs no resolve or connect.
		if t.unknown.has(id) {
			t.unknownHits.Add(1)
			return nil, fmt.Errorf("%w %q", ErrUnknownTenant, id)
		}
		// Concurrent first requests share one open, which runs on its own
		// deadline so that one caller leaving does not fail the others.
		ch := t.sf.DoChan(id, func() (any, error) { return nil, t.open(id) })
		select {
		case r := <-ch:
			if r.Err != nil {
				return nil, r.Err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (t *tenants) unpin(e *poolEntry) { t.pools.unpin(e) }

// open opens id's pool and admits it to the pool set.
func (t *tenants) open(id string) error {
	if e, closed := t.pools.lookup(id, false); e != nil || closed {
		if closed {
			return ErrClosed
		}
		return nil // a previous flight for id finished between get's lookup and this one
	}
	ctx, done, ok := t.opener.begin()
	if !ok {
		return ErrClosed
	}
	defer done()
	err := t.opener.open(ctx, id, func(db *gorm.DB, release func() error) error {
		return t.pools.admit(ctx, id, db, release)
	})
	switch {
	case err == nil:
		t.unknown.forget(id)
	case errors.Is(err, ErrUnknownTenant) && !errors.Is(err, errNotInCatalog):
		t.unknown.add(id)
	}
	return err
}

func (t *tenants) close() error {
	t.closeOnce.Do(func() {
		close(t.stop)
		t.pools.close()
		t.opener.close() // ends the opens in flight
		t.reaper.Wait()
		t.pools.wait()
		t.unknown.close()
	})
	return nil
}

func (t *tenants) stats() TenantStats {
	o := t.opener
	return TenantStats{
		Open: t.pools.len(), Opens: t.pools.opens.Load(), Evictions: t.pools.evictions.Load(),
		Resolves: o.resolves.Load(), ResolveFailures: o.resolveFailures.Load(), Unknown: o.unknowns.Load(),
		UnknownCacheHits: t.unknownHits.Load(), Connects: o.connects.Load(), CatalogReads: o.catalog.readCount(),
	}
}
