package data

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"github.com/apexgo/apex/app"
)

// Params are the optional parts of [New].
type Params struct {
	// Log receives query and tenancy logs. Default: none.
	Log *zap.Logger
	// TracerProvider traces statements when set.
	TracerProvider trace.TracerProvider
	// Resolver finds tenants when tenancy is on. Default: [ConfigResolver].
	Resolver TenantResolver
	// Migrations are applied by [Databases.Start] when data.migrate.on_start
	// is set, and to each tenant's database on first open when
	// data.tenancy.migrate_on_open is.
	Migrations fs.FS
}

// Databases is apex's [Registry]: the primary, the named databases and,
// with tenancy on, the tenants' pools. [New] builds it without
// connecting; [Databases.Start] connects, [Databases.Close] closes.
type Databases struct {
	cfg     Config
	p       Params
	primary *gorm.DB
	named   map[string]*gorm.DB
	tenants *tenants
	closed  atomic.Bool
}

var (
	_ Registry = (*Databases)(nil)
	_ Pinner   = (*Databases)(nil)
)

// New builds the registry cfg describes. Nothing connects yet (a bad DSN
// is an error naming its key); call Start.
func New(cfg Config, p Params) (*Databases, error) {
	if p.Log == nil {
		p.Log = zap.NewNop()
	}
	d := &Databases{cfg: cfg, p: p, named: make(map[string]*gorm.DB, len(cfg.Databases))}
	op := OpenParams{Log: p.Log, SlowQueryThreshold: cfg.SlowQueryThreshold, TracerProvider: p.TracerProvider}
	prim := cfg.primary()
	op.Name, op.Setting = "primary", "data.dsn"
	if !cfg.DSN.IsSet() {
		op.Setting = "data.sqlite_path"
	}
	var err error
	if d.primary, err = Open(prim, op); err != nil {
		return nil, err
	}
	for _, name := range d.names() {
		c := cfg.Databases[name]
		c.Pool = c.Pool.inherit(cfg.Pool)
		op.Name, op.Setting = name, "data.databases."+name+".dsn"
		db, err := Open(c, op)
		if err != nil {
			d.closeAll()
			return nil, err
		}
		d.named[name] = db
	}
	if cfg.Tenancy.Enabled {
		if p.Resolver == nil {
			if !cfg.Tenancy.configured() {
				d.closeAll()
				return nil, errors.New("data.tenancy.enabled: no tenants, dsn_template or schema_template configured and no data.TenantResolver supplied")
			}
			p.Resolver = ConfigResolver(cfg)
		}
		if d.tenants, err = newTenants(d, p.Resolver); err != nil {
			d.closeAll()
			return nil, err
		}
	}
	return d, nil
}

func (d *Databases) names() []string {
	names := make([]string, 0, len(d.cfg.Databases))
	for n := range d.cfg.Databases {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Start connects to the primary and the named databases, retrying until
// ctx ends (an unreachable database is an error naming its setting), runs
// the primary's migrations if data.migrate.on_start is set, and starts
// closing idle tenant pools in the background.
func (d *Databases) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			// fx runs no stop hook for a start hook that failed.
			_ = d.Close()
		}
	}()
	setting := "data.dsn"
	if !d.cfg.DSN.IsSet() {
		setting = "data.sqlite_path"
	}
	if err := Ping(ctx, d.primary, d.cfg.Pool.ConnectTimeout, setting); err != nil {
		return err
	}
	for _, name := range d.names() {
		if err := Ping(ctx, d.named[name], d.cfg.Pool.ConnectTimeout, "data.databases."+name+".dsn"); err != nil {
			return err
		}
	}
	if d.cfg.Migrate.OnStart {
		if d.p.Migrations == nil {
			return errors.New("data.migrate.on_start: no migrations supplied (provide data.Migrations)")
		}
		m, err := NewMigrator(d.primary, d.p.Migrations, MigratorParams{Table: d.cfg.Migrate.Table, Log: d.p.Log})
		if err != nil {
			return fmt.Errorf("data.migrate: %w", err)
		}
		if _, err := m.Up(ctx); err != nil {
			return fmt.Errorf("data.migrate.on_start: %w", err)
		}
	}
	if d.tenants != nil {
		d.tenants.start()
	}
	return nil
}

// Close closes every pool, tenants' included, and ends the tenant opens
// in flight (ErrClosed). Statements already running finish, and Close
// waits for them (a minute at most); later statements fail. Later calls
// return nil.
func (d *Databases) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	var errs []error
	if d.tenants != nil {
		errs = append(errs, d.tenants.close())
	}
	errs = append(errs, d.closeAll())
	return errors.Join(errs...)
}

func (d *Databases) closeAll() error {
	var errs []error
	for _, db := range append([]*gorm.DB{d.primary}, values(d.named)...) {
		if db == nil {
			continue
		}
		if sqlDB, err := db.DB(); err == nil {
			errs = append(errs, closeAndWait(sqlDB))
		}
	}
	return errors.Join(errs...)
}

// closeAndWait closes db (no statement can start) and waits until the
// statements running on it have finished and their connections closed,
// for closeWait at most (a connection held forever, as by rows never
// closed, must not hang the stop).
func closeAndWait(db *sql.DB) error {
	err := db.Close()
	deadline := time.Now().Add(closeWait)
	for n := db.Stats().OpenConnections; n > 0; n = db.Stats().OpenConnections {
		if time.Now().After(deadline) {
			return errors.Join(err, fmt.Errorf("data: %d connections still in use %s after close", n, closeWait))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return err
}

const closeWait = time.Minute

func values(m map[string]*gorm.DB) []*gorm.DB {
	out := make([]*gorm.DB, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// Primary implements [Registry].
func (d *Databases) Primary() *gorm.DB { return d.primary }

// Named implements [Registry].
func (d *Databases) Named(name string) (*gorm.DB, error) {
	if db, ok := d.named[name]; ok {
		return db, nil
	}
	return nil, &NameError{Name: name}
}

// DB implements [Registry].
func (d *Databases) DB(ctx context.Context) (*gorm.DB, error) {
	if tx := CurrentTx(ctx, d); tx != nil {
		return tx, nil
	}
	if d.tenants == nil {
		return d.primary.WithContext(ctx), nil
	}
	id, ok := app.Tenant(ctx)
	if !ok {
		return nil, ErrNoTenant
	}
	e, err := d.tenants.get(ctx, id, false)
	if err != nil {
		return nil, err
	}
	return e.db.WithContext(ctx), nil
}

// Pin opens (if need be) the pool of the tenant in ctx and keeps it open
// until release is called: it is not evicted in between. The tenancy
// middleware pins the request's tenant for the request's duration; pin
// around long work outside requests (a job) the same way. With tenancy
// off it does nothing.
func (d *Databases) Pin(ctx context.Context) (release func(), err error) {
	if d.tenants == nil {
		return func() {}, nil
	}
	id, ok := app.Tenant(ctx)
	if !ok {
		return nil, ErrNoTenant
	}
	e, err := d.tenants.get(ctx, id, true)
	if err != nil {
		return nil, err
	}
	var once atomic.Bool
	return func() {
		if !once.Swap(true) {
			d.tenants.unpin(e)
		}
	}, nil
}

// TenantStats are counts of the tenant pools.
type TenantStats struct {
	// Open is the number of tenant pools open now.
	Open int
	// Opens, Evictions (least recently used or idle), Resolves (resolver
	// calls), ResolveFailures (errors other than unknown tenant), Unknown
	// (resolves, catalog checks or connects that found the tenant
	// unknown), UnknownCacheHits (requests for a tenant found unknown less
	// than data.tenancy.unknown_ttl ago, answered without a resolve),
	// Connects (connection attempts for tenant pools: the only way an
	// unknown tenant can cost the servers a connection) and CatalogReads
	// (reads of the primary server's list of databases or schemas, see
	// data.tenancy.catalog_ttl) count since start.
	Opens, Evictions, Resolves, ResolveFailures, Unknown, UnknownCacheHits, Connects, CatalogReads int64
}

// TenantStats returns the tenant pool counts; zero with tenancy off.
func (d *Databases) TenantStats() TenantStats {
	if d.tenants == nil {
		return TenantStats{}
	}
	return d.tenants.stats()
}
