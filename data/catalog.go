package data

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
	"gorm.io/gorm"
)

// catalog tells whether a tenant's database (database per tenant) or
// schema (schema per tenant) exists from the catalog of the primary's
// server, read on the primary's pool, so that an unknown tenant costs no
// connection of its own. It only answers for tenants on the primary's
// server (same driver, address and user; for a schema, same database):
// another server's catalog would need a connection, and another user may
// see other databases. A list read is trusted for ttl; a name missing
// from an older list makes it read again (one read at a time).
type catalog struct {
	primary *gorm.DB
	server  server
	ttl     time.Duration
	log     *zap.Logger

	sf    singleflight.Group
	mu    sync.Mutex
	lists map[catalogKind]catalogList

	reads atomic.Int64
}

// errNotInCatalog: the catalog read less than catalog_ttl ago does not
// name the tenant's database or schema. Such an ID is not remembered as
// unknown: the catalog is its cache, and a tenant created since the last
// read is reachable once the list is catalog_ttl old.
var errNotInCatalog = errors.New("is not in the server's catalog")

// readCount returns how many times the catalog was read; 0 for a nil
// catalog.
func (c *catalog) readCount() int64 {
	if c == nil {
		return 0
	}
	return c.reads.Load()
}

// catalogKind is what a catalog list names.
type catalogKind string

const (
	catalogDatabases catalogKind = "database"
	catalogSchemas   catalogKind = "schema"
)

type catalogList struct {
	names map[string]struct{}
	read  time.Time
}

// server identifies a database server, a login on it and a database.
type server struct {
	driver, addr, user, database string
}

// serverOf parses a DSN in its driver's form; ok is false for SQLite and
// DSNs that do not parse.
func serverOf(driver, dsn string) (s server, ok bool) {
	switch driver {
	case Postgres:
		pc, err := pgconn.ParseConfig(dsn)
		if err != nil {
			return server{}, false
		}
		return server{driver, net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port))), pc.User, pc.Database}, true
	case MySQL:
		mc, err := mysqldrv.ParseDSN(dsn)
		if err != nil {
			return server{}, false
		}
		return server{driver, mc.Net + ":" + mc.Addr, mc.User, mc.DBName}, true
	}
	return server{}, false
}

// newCatalog returns the catalog of the primary (prim, opened as primary),
// or nil when its driver has none to ask (SQLite).
func newCatalog(primary *gorm.DB, prim DBConfig, ttl time.Duration, log *zap.Logger) *catalog {
	driver, dsn, err := resolveDriver(prim.Driver, prim.DSN.Reveal())
	if err != nil {
		return nil
	}
	s, ok := serverOf(driver, dsn)
	if !ok {
		return nil
	}
	return &catalog{primary: primary, server: s, ttl: ttl, log: log, lists: map[catalogKind]catalogList{}}
}

// check returns an error wrapping ErrUnknownTenant when td's database or
// schema is certainly absent, and nil when it exists or the catalog cannot
// tell (another server, a failed read): connecting will tell then.
func (c *catalog) check(ctx context.Context, id string, td TenantDB) error {
	if c == nil {
		return nil
	}
	driver, dsn, err := resolveDriver(td.Driver, td.DSN.Reveal())
	if err != nil {
		return nil
	}
	s, ok := serverOf(driver, dsn)
	if !ok || s.driver != c.server.driver || s.addr != c.server.addr || s.user != c.server.user {
		return nil
	}
	kind, name := catalogDatabases, s.database
	if td.Schema != "" {
		if s.driver != Postgres || s.database != c.server.database {
			return nil
		}
		kind, name = catalogSchemas, td.Schema
	}
	found, err := c.has(ctx, kind, name)
	if err != nil {
		c.log.Debug("cannot read the catalog; connecting to find the tenant", zap.String("tenant", id), zap.Error(err))
		return nil
	}
	if !found {
		return fmt.Errorf("%w %q: %s %s %w", ErrUnknownTenant, id, kind, name, errNotInCatalog)
	}
	return nil
}

// has reports whether name is in the list of kind, reading the list again
// when name is missing and the list is older than ttl.
func (c *catalog) has(ctx context.Context, kind catalogKind, name string) (bool, error) {
	l, fresh := c.list(kind)
	if _, ok := l.names[name]; ok || fresh {
		return ok, nil
	}
	v, err, _ := c.sf.Do(string(kind), func() (any, error) {
		if l, fresh := c.list(kind); fresh {
			return l, nil // read while this caller waited
		}
		return c.read(ctx, kind)
	})
	if err != nil {
		return false, err
	}
	_, ok := v.(catalogList).names[name]
	return ok, nil
}

func (c *catalog) list(kind catalogKind) (l catalogList, fresh bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l = c.lists[kind]
	return l, l.names != nil && time.Since(l.read) < c.ttl
}

func (c *catalog) read(ctx context.Context, kind catalogKind) (catalogList, error) {
	q := "SELECT schema_name FROM information_schema.schemata"
	switch {
	case kind == catalogSchemas:
		q = "SELECT nspname FROM pg_namespace"
	case c.server.driver == Postgres:
		q = "SELECT datname FROM pg_database"
	}
	c.reads.Add(1)
	var names []string
	if err := c.primary.WithContext(ctx).Raw(q).Scan(&names).Error; err != nil {
		return catalogList{}, err
	}
	l := catalogList{names: make(map[string]struct{}, len(names)), read: time.Now()}
	for _, n := range names {
		l.names[n] = struct{}{}
	}
	c.mu.Lock()
	c.lists[kind] = l
	c.mu.Unlock()
	return l, nil
}
