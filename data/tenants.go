package data

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
	"gorm.io/gorm"

	"github.com/apexgo/apex/app"
)

func (t TenancyConfig) configured() bool {
	return len(t.Tenants) > 0 || t.DSNTemplate.IsSet() || t.SchemaTemplate != ""
}

// ConfigResolver resolves tenants from cfg.Tenancy: a tenant listed under
// tenants is found there; otherwise dsn_template gives it a database of its
// own and schema_template a schema in the primary database; otherwise it
// is unknown.
func ConfigResolver(cfg Config) TenantResolver {
	t := cfg.Tenancy
	prim := cfg.primary()
	return configResolver(func(_ context.Context, id string) (TenantDB, error) {
		if tc, ok := t.Tenants[id]; ok {
			td := TenantDB{Driver: tc.Driver, DSN: tc.DSN, Schema: tc.Schema}
			if !td.DSN.IsSet() {
				td.Driver, td.DSN = prim.Driver, prim.DSN
			}
			return td, nil
		}
		switch {
		case t.DSNTemplate.IsSet():
			return TenantDB{DSN: app.NewSecret(strings.ReplaceAll(t.DSNTemplate.Reveal(), "{tenant}", id))}, nil
		case t.SchemaTemplate != "":
			return TenantDB{Driver: prim.Driver, DSN: prim.DSN, Schema: strings.ReplaceAll(t.SchemaTemplate, "{tenant}", id)}, nil
		}
		return TenantDB{}, fmt.Errorf("%w %q", ErrUnknownTenant, id)
	})
}

// configResolver is ConfigResolver's: IDs it is given are limited by the
// templates' room.
type configResolver func(ctx context.Context, id string) (TenantDB, error)

func (f configResolver) Resolve(ctx context.Context, id string) (TenantDB, error) { return f(ctx, id) }

func isConfigResolver(r TenantResolver) bool {
	_, ok := r.(configResolver)
	return ok
}

type tenantEntry struct {
	id      string
	db      *gorm.DB
	release func() error
	refs    int // pins, under tenants.mu
	last    atomic.Int64
}

type tenants struct {
	d        *Databases
	cfg      TenancyConfig
	resolver TenantResolver
	log      *zap.Logger
	idRoom   int // longest ID not listed in cfg.Tenants, see TenantIDPattern

	mu    sync.RWMutex
	pools map[string]*tenantEntry
	// slots counts the pools that hold a place under max_open: open ones
	// (in pools), ones being opened and ones being closed (closing).
	slots, closing int
	waiting        int
	freed          chan struct{}
	closed         bool
	// ctx ends at close, ending opens in flight; opening counts them.
	ctx     context.Context
	cancel  context.CancelFunc
	opening sync.WaitGroup

	sf      singleflight.Group
	unknown *unknownCache // IDs recently found unknown
	stop    chan struct{}
	started bool
	bg      sync.WaitGroup // reaper and closing pools

	opens, evictions, resolves, resolveFailures, unknowns, unknownHits atomic.Int64
	live, peak                                                         atomic.Int64 // database/sql pools in existence
}

func newTenants(d *Databases, r TenantResolver) *tenants {
	t := &tenants{
		d: d, cfg: d.cfg.Tenancy, resolver: r, log: d.p.Log.Named("data.tenancy"),
		pools: map[string]*tenantEntry{},
		freed: make(chan struct{}), stop: make(chan struct{}),
		unknown: newUnknownCache(d.cfg.Tenancy.UnknownCacheSize, d.cfg.Tenancy.UnknownTTL),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.cfg.Pool = t.cfg.Pool.inherit(d.cfg.Pool)
	t.idRoom = maxIdent
	if r == nil || isConfigResolver(r) {
		t.idRoom, _ = t.cfg.idRoom()
	}
	return t
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

func (t *tenants) start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started || t.closed {
		return
	}
	t.started = true
	every := min(max(t.cfg.IdleTTL/4, 10*time.Millisecond), time.Minute)
	t.bg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-t.stop:
				return
			case <-tick.C:
				t.reap()
			}
		}
	})
}

// reap closes the pools idle past idle_ttl.
func (t *tenants) reap() {
	cutoff := time.Now().Add(-t.cfg.IdleTTL).UnixNano()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.pools {
		if e.refs == 0 && e.last.Load() < cutoff {
			t.removeLocked(e)
			t.log.Debug("tenant pool closed after idle_ttl", zap.String("tenant", e.id))
		}
	}
}

func (t *tenants) get(ctx context.Context, id string, pin bool) (*tenantEntry, error) {
	if !t.validID(id) {
		return nil, ErrInvalidTenant
	}
	for {
		t.mu.RLock()
		e, closed := t.pools[id], t.closed
		if e != nil && !pin {
			e.last.Store(time.Now().UnixNano())
			t.mu.RUnlock()
			return e, nil
		}
		t.mu.RUnlock()
		if closed {
			return nil, ErrClosed
		}
		if e != nil {
			t.mu.Lock()
			if t.pools[id] == e {
				e.refs++
				e.last.Store(time.Now().UnixNano())
				t.mu.Unlock()
				return e, nil
			}
			t.mu.Unlock()
			continue
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

func (t *tenants) unpin(e *tenantEntry) {
	t.mu.Lock()
	e.refs--
	e.last.Store(time.Now().UnixNano())
	t.notifyLocked()
	t.mu.Unlock()
}

func (t *tenants) notifyLocked() {
	if t.waiting > 0 {
		close(t.freed)
		t.freed = make(chan struct{})
	}
}

func (t *tenants) open(id string) error {
	t.mu.Lock()
	_, open := t.pools[id]
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	if open { // a previous flight for id finished between get's check and this one
		t.mu.Unlock()
		return nil
	}
	t.opening.Add(1)
	t.mu.Unlock()
	defer t.opening.Done()

	budget := 2*t.cfg.Pool.ConnectTimeout + 5*time.Second
	ctx, cancel := context.WithTimeout(t.ctx, budget)
	defer cancel()
	t.resolves.Add(1)
	td, err := t.resolver.Resolve(ctx, id)
	if err != nil {
		if t.ctx.Err() != nil {
			return ErrClosed
		}
		if errors.Is(err, ErrUnknownTenant) {
			t.unknowns.Add(1)
			t.unknown.add(id)
			return err
		}
		t.resolveFailures.Add(1)
		t.log.Warn("tenant resolver failed", zap.String("tenant", id), zap.Error(err))
		return fmt.Errorf("data: resolve tenant %q: %w", id, err)
	}
	// Take a place under max_open before connecting, so that no more than
	// max_open pools ever exist.
	if err := t.reserve(ctx, id); err != nil {
		return err
	}
	db, release, err := t.openDB(ctx, id, td)
	if errors.Is(err, errNoDatabase) {
		err = fmt.Errorf("%w %q: %w", ErrUnknownTenant, id, err)
	}
	if err != nil {
		t.unreserve()
		switch {
		case t.ctx.Err() != nil:
			return ErrClosed
		case errors.Is(err, ErrUnknownTenant):
			t.unknowns.Add(1)
			t.unknown.add(id)
		default:
			t.log.Error("cannot open tenant database", zap.String("tenant", id), zap.Error(err))
		}
		return err
	}
	t.mu.Lock()
	if _, open := t.pools[id]; open || t.closed {
		t.mu.Unlock()
		_ = release()
		t.unreserve()
		if !open {
			return ErrClosed
		}
		return nil
	}
	t.unknown.forget(id)
	e := &tenantEntry{id: id, db: db, release: release}
	e.last.Store(time.Now().UnixNano())
	t.pools[id] = e
	t.opens.Add(1)
	t.mu.Unlock()
	return nil
}

// reserve takes a place under max_open for a pool about to be opened,
// closing the least recently used unpinned pool when all are taken and
// waiting for its close (or for a pinned pool's release) until ctx ends.
func (t *tenants) reserve(ctx context.Context, id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.waiting++
	defer func() { t.waiting-- }()
	for t.slots >= t.cfg.MaxOpen {
		if t.closed {
			return ErrClosed
		}
		// Pools already closing will free a place each: evict only when
		// they are fewer than the opens waiting for one.
		if t.closing < t.waiting {
			if victim := t.lruLocked(); victim != nil {
				t.removeLocked(victim)
				continue
			}
		}
		ch := t.freed
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		t.mu.Lock()
		if ctx.Err() != nil {
			if t.closed {
				return ErrClosed
			}
			return fmt.Errorf("data: tenant %q: all %d tenant pools are busy: %w", id, t.cfg.MaxOpen, ctx.Err())
		}
	}
	if t.closed {
		return ErrClosed
	}
	t.slots++
	return nil
}

// unreserve gives back a place taken by reserve.
func (t *tenants) unreserve() {
	t.mu.Lock()
	t.slots--
	t.notifyLocked()
	t.mu.Unlock()
}

func (t *tenants) lruLocked() *tenantEntry {
	var victim *tenantEntry
	for _, e := range t.pools {
		if e.refs == 0 && (victim == nil || e.last.Load() < victim.last.Load()) {
			victim = e
		}
	}
	return victim
}

// removeLocked takes e out and closes its pool in the background; its
// place under max_open is free once the pool is closed. A statement
// running on it finishes; its connection closes then.
func (t *tenants) removeLocked(e *tenantEntry) {
	delete(t.pools, e.id)
	t.evictions.Add(1)
	t.closing++
	t.bg.Go(func() {
		if err := e.release(); err != nil {
			t.log.Warn("closing tenant pool", zap.String("tenant", e.id), zap.Error(err))
		}
		t.mu.Lock()
		t.closing--
		t.slots--
		t.notifyLocked()
		t.mu.Unlock()
	})
}

// openDB opens a tenant's pool: on its own database, or on a schema
// (search_path) of a shared one.
func (t *tenants) openDB(ctx context.Context, id string, td TenantDB) (*gorm.DB, func() error, error) {
	db, release, err := t.openDBNoMigrate(ctx, id, td)
	if err != nil || !t.cfg.MigrateOnOpen {
		return db, release, err
	}
	dsn := ""
	if td.Schema != "" {
		_, dsn, _ = resolveDriver(td.Driver, td.DSN.Reveal())
	}
	if err := t.migrate(ctx, db, td.Schema, dsn); err != nil {
		_ = release()
		return nil, nil, err
	}
	return db, release, nil
}

func (t *tenants) openDBNoMigrate(ctx context.Context, id string, td TenantDB) (*gorm.DB, func() error, error) {
	pool := t.cfg.Pool
	if td.Pool != nil {
		pool = td.Pool.inherit(pool)
	}
	op := OpenParams{Name: "tenant", Setting: "data.tenancy (tenant " + id + ")", Log: t.d.p.Log,
		SlowQueryThreshold: t.d.cfg.SlowQueryThreshold, TracerProvider: t.d.p.TracerProvider}
	if len(td.Schema) > maxIdent {
		return nil, nil, fmt.Errorf("%s: schema name %.20q... is longer than %d bytes: Postgres would cut it", op.Setting, td.Schema, maxIdent)
	}
	if driver, dsn, err := resolveDriver(td.Driver, td.DSN.Reveal()); err == nil && driver == Postgres {
		if pc, err := pgconn.ParseConfig(dsn); err == nil && len(pc.Database) > maxIdent {
			return nil, nil, fmt.Errorf("%s: database name %.20q... is longer than %d bytes: Postgres would cut it", op.Setting, pc.Database, maxIdent)
		}
	}
	if td.Schema == "" {
		db, err := Open(DBConfig{Driver: td.Driver, DSN: td.DSN, Pool: pool}, op)
		if err != nil {
			return nil, nil, err
		}
		closeDB := t.counted(db)
		if err := Ping(ctx, db, pool.ConnectTimeout, op.Setting); err != nil {
			_ = closeDB()
			return nil, nil, err
		}
		return db, closeDB, nil
	}
	driver, dsn, err := resolveDriver(td.Driver, td.DSN.Reveal())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op.Setting, err)
	}
	if driver != Postgres {
		return nil, nil, fmt.Errorf("%s: schema-per-tenant needs Postgres, not %s", op.Setting, driver)
	}
	// A pool of the tenant's own whose connections have the schema as
	// their search_path, so that every statement — gorm's derived names,
	// TableName, db.Table, raw SQL — runs in it.
	db, err := Open(DBConfig{Driver: Postgres, DSN: app.NewSecret(withSearchPath(dsn, td.Schema)), Pool: pool}, op)
	if err != nil {
		return nil, nil, err
	}
	closeDB := t.counted(db)
	if err := Ping(ctx, db, pool.ConnectTimeout, op.Setting); err != nil {
		_ = closeDB()
		return nil, nil, err
	}
	var n int64
	if err := db.WithContext(ctx).Raw("SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?", td.Schema).Scan(&n).Error; err != nil {
		_ = closeDB()
		return nil, nil, err
	}
	if n == 0 {
		_ = closeDB()
		return nil, nil, fmt.Errorf("%w %q: schema %s does not exist", ErrUnknownTenant, id, td.Schema)
	}
	return db, closeDB, nil
}

// counted counts db's pool as live until the function it returns has
// closed it.
func (t *tenants) counted(db *gorm.DB) func() error {
	n := t.live.Add(1)
	for p := t.peak.Load(); n > p && !t.peak.CompareAndSwap(p, n); p = t.peak.Load() {
	}
	sqlDB, _ := db.DB()
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() {
			err = closeAndWait(sqlDB)
			t.live.Add(-1)
		})
		return err
	}
}

func (t *tenants) migrate(ctx context.Context, db *gorm.DB, schema, dsn string) error {
	if !t.cfg.MigrateOnOpen || t.d.p.Migrations == nil {
		return nil
	}
	m, err := NewMigrator(db, t.d.p.Migrations, MigratorParams{Table: t.d.cfg.Migrate.Table, Schema: schema, DSN: app.NewSecret(dsn), Log: t.log})
	if err != nil {
		return err
	}
	defer m.Close()
	_, err = m.Up(ctx)
	return err
}

func (t *tenants) close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	close(t.stop)
	t.cancel() // ends the opens in flight
	for _, e := range t.pools {
		t.removeLocked(e)
	}
	t.notifyLocked()
	t.mu.Unlock()
	t.opening.Wait()
	t.bg.Wait()
	return nil
}

func (t *tenants) stats() TenantStats {
	t.mu.RLock()
	n := len(t.pools)
	t.mu.RUnlock()
	return TenantStats{
		Open: n, Opens: t.opens.Load(), Evictions: t.evictions.Load(), Resolves: t.resolves.Load(),
		ResolveFailures: t.resolveFailures.Load(), Unknown: t.unknowns.Load(), UnknownCacheHits: t.unknownHits.Load(),
	}
}

// withDB opens a tenant's database outside the pool set, runs fn and
// closes it.
func (t *tenants) withDB(ctx context.Context, id string, td TenantDB, fn func(db *gorm.DB, schema, dsn string) error) error {
	db, release, err := t.openDBNoMigrate(ctx, id, td)
	if err != nil {
		return err
	}
	defer func() { _ = release() }()
	dsn := ""
	if td.Schema != "" {
		_, dsn, _ = resolveDriver(td.Driver, td.DSN.Reveal())
	}
	return fn(db, td.Schema, dsn)
}

// MigrateTenants applies the migrations to the databases (or schemas) of
// the tenants ids, one after another, each under the migration lock, as a
// command-line "migrate up" for every tenant does. Pools opened for it are
// closed before it returns. It stops at the first failure, naming the
// tenant.
func (d *Databases) MigrateTenants(ctx context.Context, fsys fs.FS, ids []string) error {
	if d.tenants == nil {
		return errors.New("data: MigrateTenants: data.tenancy.enabled is off")
	}
	t := d.tenants
	for _, id := range ids {
		if !t.validID(id) {
			return fmt.Errorf("%w: %q", ErrInvalidTenant, id)
		}
		td, err := t.resolver.Resolve(ctx, id)
		if err != nil {
			return fmt.Errorf("tenant %s: %w", id, err)
		}
		err = t.withDB(ctx, id, td, func(db *gorm.DB, schema, dsn string) error {
			m, err := NewMigrator(db, fsys, MigratorParams{Table: d.cfg.Migrate.Table, Schema: schema, DSN: app.NewSecret(dsn), Log: t.log})
			if err != nil {
				return err
			}
			defer m.Close()
			_, err = m.Up(ctx)
			return err
		})
		if err != nil {
			return fmt.Errorf("tenant %s: %w", id, err)
		}
	}
	return nil
}
