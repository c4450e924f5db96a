package data

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"github.com/apexgo/apex/app"
)

// opener opens tenant pools: it resolves the tenant, asks the catalog
// whether its database or schema exists, then connects, at most
// max_opening at once, and migrates when data.tenancy.migrate_on_open is
// set. It keeps no pool: poolSet does.
type opener struct {
	d        *Databases
	cfg      TenancyConfig
	resolver TenantResolver
	catalog  *catalog // nil: no catalog to ask
	log      *zap.Logger
	turns    chan struct{} // max_opening tokens

	// ctx ends at close, ending the opens in flight; opening counts them.
	ctx     context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex
	closed  bool
	opening sync.WaitGroup

	resolves, resolveFailures, unknowns, connects atomic.Int64
	live, peak                                    atomic.Int64 // database/sql pools in existence
	connecting, connectingPeak                    atomic.Int64 // connects under way
}

func newOpener(d *Databases, cfg TenancyConfig, r TenantResolver, log *zap.Logger) *opener {
	o := &opener{d: d, cfg: cfg, resolver: r, log: log, turns: make(chan struct{}, max(cfg.MaxOpening, 1))}
	o.ctx, o.cancel = context.WithCancel(context.Background())
	if cfg.CatalogTTL > 0 {
		o.catalog = newCatalog(d.primary, d.cfg.primary(), cfg.CatalogTTL, log)
	}
	return o
}

// begin starts an open, with a context that ends at close or after the
// open's budget: resolve, catalog, waiting for a turn, connect with its
// retries and a place in the pool set. It returns false once closed.
func (o *opener) begin() (context.Context, func(), bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, nil, false
	}
	o.opening.Add(1)
	ctx, cancel := context.WithTimeout(o.ctx, 2*o.cfg.Pool.ConnectTimeout+DefaultConnectTimeout)
	return ctx, func() { cancel(); o.opening.Done() }, true
}

// close ends the opens in flight and waits for them.
func (o *opener) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.cancel()
	o.opening.Wait()
}

// open opens tenant id's pool, connected (and migrated), and hands it to
// admit, which owns it from then on. It returns an error wrapping
// ErrUnknownTenant when the resolver, the catalog or the server says there
// is no such tenant, ErrClosed once closed, or admit's error.
func (o *opener) open(ctx context.Context, id string, admit func(*gorm.DB, func() error) error) error {
	err := o.resolveAndConnect(ctx, id, admit)
	switch {
	case err == nil:
		return nil
	case o.ctx.Err() != nil:
		return ErrClosed
	case errors.Is(err, ErrUnknownTenant):
		o.unknowns.Add(1)
	}
	return err
}

func (o *opener) resolveAndConnect(ctx context.Context, id string, admit func(*gorm.DB, func() error) error) error {
	o.resolves.Add(1)
	td, err := o.resolver.Resolve(ctx, id)
	if err != nil {
		if errors.Is(err, ErrUnknownTenant) || o.ctx.Err() != nil {
			return err
		}
		o.resolveFailures.Add(1)
		o.log.Warn("tenant resolver failed", zap.String("tenant", id), zap.Error(err))
		return fmt.Errorf("data: resolve tenant %q: %w", id, err)
	}
	if err := o.catalog.check(ctx, id, td); err != nil {
		return err
	}
	// A turn, held until the pool is admitted, bounds the connects under
	// way and the pools opened but not yet admitted, whatever IDs callers
	// make up.
	select {
	case o.turns <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("data: tenant %q: waiting for one of %d opens under way: %w", id, cap(o.turns), ctx.Err())
	}
	defer func() { <-o.turns }()
	db, release, err := o.connect(ctx, id, td)
	if errors.Is(err, errNoDatabase) {
		err = fmt.Errorf("%w %q: %w", ErrUnknownTenant, id, err)
	}
	if err != nil {
		if !errors.Is(err, ErrUnknownTenant) && o.ctx.Err() == nil {
			o.log.Error("cannot open tenant database", zap.String("tenant", id), zap.Error(err))
		}
		return err
	}
	if o.cfg.MigrateOnOpen && o.d.p.Migrations != nil {
		if err := o.migrate(ctx, db, td, o.d.p.Migrations); err != nil {
			_ = release()
			o.log.Error("cannot migrate tenant database", zap.String("tenant", id), zap.Error(err))
			return err
		}
	}
	return admit(db, release)
}

// connect opens, counts and pings a pool on td, on its own database or,
// with td.Schema, on the schema (search_path) of a shared one, which must
// exist. The pool is closed again if any step fails.
func (o *opener) connect(ctx context.Context, id string, td TenantDB) (*gorm.DB, func() error, error) {
	o.connects.Add(1)
	n := o.connecting.Add(1)
	defer o.connecting.Add(-1)
	raise(&o.connectingPeak, n)

	pool := o.cfg.Pool
	if td.Pool != nil {
		pool = td.Pool.inherit(pool)
	}
	op := OpenParams{Name: "tenant", Setting: "data.tenancy (tenant " + id + ")", Log: o.d.p.Log,
		SlowQueryThreshold: o.d.cfg.SlowQueryThreshold, TracerProvider: o.d.p.TracerProvider}
	cfg := DBConfig{Driver: td.Driver, DSN: td.DSN, Pool: pool}
	driver, dsn, err := resolveDriver(td.Driver, td.DSN.Reveal())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op.Setting, err)
	}
	if err := checkNameLengths(op.Setting, driver, dsn, td.Schema); err != nil {
		return nil, nil, err
	}
	if td.Schema != "" {
		if driver != Postgres {
			return nil, nil, fmt.Errorf("%s: schema-per-tenant needs Postgres, not %s", op.Setting, driver)
		}
		// A pool of the tenant's own whose connections have the schema as
		// their search_path, so that every statement — gorm's derived
		// names, TableName, db.Table, raw SQL — runs in it.
		cfg = DBConfig{Driver: Postgres, DSN: app.NewSecret(withSearchPath(dsn, td.Schema)), Pool: pool}
	}
	db, err := Open(cfg, op)
	if err != nil {
		return nil, nil, err
	}
	release := o.counted(db)
	err = Ping(ctx, db, pool.ConnectTimeout, op.Setting)
	if err == nil && td.Schema != "" {
		err = schemaExists(ctx, db, id, td.Schema)
	}
	if err != nil {
		_ = release()
		return nil, nil, err
	}
	return db, release, nil
}

// checkNameLengths refuses a database or schema name that Postgres would
// cut to 63 bytes, which could make two tenants one.
func checkNameLengths(setting, driver, dsn, schema string) error {
	if len(schema) > maxIdent {
		return fmt.Errorf("%s: schema name %.20q... is longer than %d bytes: Postgres would cut it", setting, schema, maxIdent)
	}
	if driver == Postgres {
		if pc, err := pgconn.ParseConfig(dsn); err == nil && len(pc.Database) > maxIdent {
			return fmt.Errorf("%s: database name %.20q... is longer than %d bytes: Postgres would cut it", setting, pc.Database, maxIdent)
		}
	}
	return nil
}

// schemaExists returns an error wrapping ErrUnknownTenant when schema does
// not exist in db's database.
func schemaExists(ctx context.Context, db *gorm.DB, id, schema string) error {
	var n int64
	if err := db.WithContext(ctx).Raw("SELECT count(*) FROM pg_namespace WHERE nspname = ?", schema).Scan(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w %q: schema %s does not exist", ErrUnknownTenant, id, schema)
	}
	return nil
}

// raise sets peak to n if n is higher.
func raise(peak *atomic.Int64, n int64) {
	for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
	}
}

// counted counts db's pool as live until the function it returns has
// closed it.
func (o *opener) counted(db *gorm.DB) func() error {
	raise(&o.peak, o.live.Add(1))
	sqlDB, _ := db.DB()
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() {
			err = closeAndWait(sqlDB)
			o.live.Add(-1)
		})
		return err
	}
}

// migrate applies the migrations in fsys to a tenant's pool.
func (o *opener) migrate(ctx context.Context, db *gorm.DB, td TenantDB, fsys fs.FS) error {
	dsn := ""
	if td.Schema != "" {
		_, dsn, _ = resolveDriver(td.Driver, td.DSN.Reveal())
	}
	m, err := NewMigrator(db, fsys, MigratorParams{Table: o.d.cfg.Migrate.Table, Schema: td.Schema, DSN: app.NewSecret(dsn), Log: o.log})
	if err != nil {
		return err
	}
	defer m.Close()
	_, err = m.Up(ctx)
	return err
}

// idleEvery is how often idle pools are looked for: a quarter of
// idle_ttl, within [10ms, 1m].
func idleEvery(ttl time.Duration) time.Duration {
	return min(max(ttl/4, 10*time.Millisecond), time.Minute)
}

// migrateTenant opens a pool of tenant id outside the pool set, applies
// the migrations in fsys and closes it.
func (o *opener) migrateTenant(ctx context.Context, id string, fsys fs.FS) error {
	td, err := o.resolver.Resolve(ctx, id)
	if err != nil {
		return err
	}
	db, release, err := o.connect(ctx, id, td)
	if err != nil {
		return err
	}
	defer func() { _ = release() }()
	return o.migrate(ctx, db, td, fsys)
}
