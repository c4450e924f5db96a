package data

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/apexgo/apex/app"
)

// Defaults of the "data" section, used by [DefaultConfig] and, where a
// field is left zero, by [Open], [New] and [Databases.Middleware].
const (
	// DefaultDriver is data.driver: pick the driver from the DSN.
	DefaultDriver = "auto"
	// DefaultSQLitePath is data.sqlite_path.
	DefaultSQLitePath = "var/apex.db"
	// DefaultMaxOpen is data.pool.max_open.
	DefaultMaxOpen = 20
	// DefaultMaxIdle is data.pool.max_idle.
	DefaultMaxIdle = 10
	// DefaultConnMaxLifetime is data.pool.conn_max_lifetime.
	DefaultConnMaxLifetime = 30 * time.Minute
	// DefaultConnMaxIdleTime is data.pool.conn_max_idle_time.
	DefaultConnMaxIdleTime = 5 * time.Minute
	// DefaultConnectTimeout is data.pool.connect_timeout, and what [Ping]
	// uses for a timeout of 0.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultSlowQueryThreshold is data.slow_query_threshold.
	DefaultSlowQueryThreshold = 200 * time.Millisecond
	// DefaultTenantHeader is data.tenancy.header.
	DefaultTenantHeader = "X-Tenant-ID"
	// DefaultTenantMaxOpen is data.tenancy.max_open.
	DefaultTenantMaxOpen = 50
	// DefaultTenantIdleTTL is data.tenancy.idle_ttl.
	DefaultTenantIdleTTL = 10 * time.Minute
	// DefaultTenantMaxOpening is data.tenancy.max_opening.
	DefaultTenantMaxOpening = 4
	// DefaultCatalogTTL is data.tenancy.catalog_ttl.
	DefaultCatalogTTL = time.Second
	// DefaultUnknownCacheSize is data.tenancy.unknown_cache_size.
	DefaultUnknownCacheSize = 10_000
	// DefaultUnknownTTL is data.tenancy.unknown_ttl.
	DefaultUnknownTTL = 30 * time.Second
	// DefaultTenantPoolMaxOpen is data.tenancy.pool.max_open.
	DefaultTenantPoolMaxOpen = 5
	// DefaultTenantPoolMaxIdle is data.tenancy.pool.max_idle.
	DefaultTenantPoolMaxIdle = 2
	// DefaultMigrateTable is data.migrate.table and [MigratorParams].Table.
	DefaultMigrateTable = "goose_db_version"
)

// Config is the "data" section. Every key can be set from the
// environment as APP_DATA__<KEY> (APP_DATA__TENANCY__MAX_OPEN).
type Config struct {
	// Driver is auto, postgres, mysql or sqlite. auto picks the driver
	// named by the DSN's scheme when DSN is set, SQLite otherwise.
	// Default auto ([DefaultDriver]).
	Driver string `koanf:"driver" validate:"oneof=auto postgres mysql sqlite"`
	// DSN is the primary database: postgres://user:pass@host:5432/db,
	// mysql://user:pass@host:3306/db (or the go-sql-driver form
	// user:pass@tcp(host:3306)/db), sqlite:path/to/file.db or
	// sqlite::memory:. Default empty: SQLite at SQLitePath.
	DSN app.Secret `koanf:"dsn"`
	// SQLitePath is the SQLite file used when DSN is empty; its directory
	// is created. Relative to the working directory. Default var/apex.db
	// ([DefaultSQLitePath]).
	SQLitePath string `koanf:"sqlite_path" validate:"required"`
	// Pool sizes the primary's connection pool (and, key by key, the named
	// databases' pools unless they set their own). Defaults: see
	// [PoolConfig].
	Pool PoolConfig `koanf:"pool"`
	// SlowQueryThreshold logs statements slower than this at WARN with the
	// SQL and duration; 0 disables. Default 200ms
	// ([DefaultSlowQueryThreshold]).
	SlowQueryThreshold time.Duration `koanf:"slow_query_threshold" validate:"gte=0"`
	// Databases are named secondary databases (analytics, audit), opened
	// at start and closed at stop, each with its own readiness check.
	// Names are lower-case letters, digits, _ and -. Default none.
	Databases map[string]DBConfig `koanf:"databases" validate:"dive"`
	// Tenancy configures a database (or schema) per tenant. Default off.
	Tenancy TenancyConfig `koanf:"tenancy"`
	// Migrate configures migrations of the primary database.
	Migrate MigrateConfig `koanf:"migrate"`
}

// DBConfig is one database: data.databases.<name>.
type DBConfig struct {
	// Driver is auto, postgres, mysql or sqlite, as data.driver. Default
	// auto.
	Driver string `koanf:"driver" validate:"omitempty,oneof=auto postgres mysql sqlite"`
	// DSN is required for a named database; no default.
	DSN app.Secret `koanf:"dsn"`
	// Pool: zero values take the primary's (data.pool).
	Pool PoolConfig `koanf:"pool"`
}

// PoolConfig sizes a connection pool. The defaults are those of the
// primary (data.pool); named databases and tenants inherit each zero
// field from it.
type PoolConfig struct {
	// MaxOpen bounds open connections; 0 is unlimited. Default 20
	// ([DefaultMaxOpen]); 5 for a tenant ([DefaultTenantPoolMaxOpen]).
	MaxOpen int `koanf:"max_open" validate:"gte=0"`
	// MaxIdle bounds idle connections kept. Default 10 ([DefaultMaxIdle]);
	// 2 for a tenant ([DefaultTenantPoolMaxIdle]).
	MaxIdle int `koanf:"max_idle" validate:"gte=0"`
	// ConnMaxLifetime recycles connections older than this. Default 30m
	// ([DefaultConnMaxLifetime]).
	ConnMaxLifetime time.Duration `koanf:"conn_max_lifetime" validate:"gte=0"`
	// ConnMaxIdleTime closes connections idle longer. Default 5m
	// ([DefaultConnMaxIdleTime]).
	ConnMaxIdleTime time.Duration `koanf:"conn_max_idle_time" validate:"gte=0"`
	// ConnectTimeout bounds one connection attempt and each start-time
	// ping; the start hook retries with backoff within the start budget.
	// Default 5s ([DefaultConnectTimeout]).
	ConnectTimeout time.Duration `koanf:"connect_timeout" validate:"gte=0"`
}

// TenancyConfig is data.tenancy.
type TenancyConfig struct {
	// Enabled turns tenancy on: the middleware requires a tenant on every
	// route but SkipPaths, and Registry.DB serves the tenant's database.
	// Default false.
	Enabled bool `koanf:"enabled"`
	// Header carries the tenant ID. Default X-Tenant-ID
	// ([DefaultTenantHeader]).
	Header string `koanf:"header" validate:"required"`
	// MaxOpen bounds the tenant pools kept open; the least recently used
	// is closed first. A tenant takes a place only once its pool is open
	// (a failed open evicts nothing), so up to MaxOpening more pools exist
	// for a moment while being opened. Default 50 ([DefaultTenantMaxOpen]).
	MaxOpen int `koanf:"max_open" validate:"gte=1"`
	// MaxOpening bounds the tenant pools being opened (connected, pinged)
	// at once; further first requests wait for a turn. It bounds what a
	// flood of made-up tenant IDs can cost the database servers. Default
	// 4 ([DefaultTenantMaxOpening]).
	MaxOpening int `koanf:"max_opening" validate:"gte=1"`
	// IdleTTL closes a tenant pool unused this long. Default 10m
	// ([DefaultTenantIdleTTL]).
	IdleTTL time.Duration `koanf:"idle_ttl" validate:"gt=0"`
	// CatalogTTL is how long a list of the databases (database per
	// tenant) or schemas (schema per tenant) read from the server's
	// catalog is trusted: a tenant whose database or schema is not in the
	// list is unknown without a connection of its own. The list is read
	// on the primary's pool, so only for tenants on the primary's server
	// (same driver, host, port and user; for schemas, same database); the
	// others are checked by connecting. A tenant created meanwhile is
	// reachable after it at the latest. 0 turns the check off. Default 1s
	// ([DefaultCatalogTTL]).
	CatalogTTL time.Duration `koanf:"catalog_ttl" validate:"gte=0"`
	// UnknownCacheSize bounds the tenant IDs remembered as unknown (the
	// resolver said so, or their database or schema does not exist), so
	// that requests naming them cost no resolve or connect; the least
	// likely to be asked again is forgotten first. Resolver failures are
	// not remembered. 0 turns the cache off. Default 10000
	// ([DefaultUnknownCacheSize]).
	UnknownCacheSize int `koanf:"unknown_cache_size" validate:"gte=0"`
	// UnknownTTL is how long an ID stays remembered as unknown: a tenant
	// created meanwhile is reachable after it at the latest. 0 turns the
	// cache off. Default 30s ([DefaultUnknownTTL]).
	UnknownTTL time.Duration `koanf:"unknown_ttl" validate:"gte=0"`
	// Pool sizes each tenant's pool. Default max_open 5, max_idle 2, and
	// the primary's timeouts.
	Pool PoolConfig `koanf:"pool"`
	// Tenants lists tenants and where each lives; with DSNTemplate and
	// SchemaTemplate empty, only these exist. Default none.
	Tenants map[string]TenantConfig `koanf:"tenants" validate:"dive"`
	// DSNTemplate is a DSN with {tenant} in it: a database per tenant.
	// Default empty.
	DSNTemplate app.Secret `koanf:"dsn_template"`
	// SchemaTemplate is a Postgres schema name with {tenant} in it
	// ("tenant_{tenant}"): a schema per tenant in the primary database,
	// each tenant on a pool of its own whose search_path is the schema
	// (quoted: the case of the ID is kept). Default empty.
	SchemaTemplate string `koanf:"schema_template"`
	// SkipPaths are request paths served without a tenant: exact, or a
	// prefix when ending in "/". The health and metrics endpoints are
	// always skipped. Default none.
	SkipPaths []string `koanf:"skip_paths"`
	// MigrateOnOpen runs the migrations on a tenant's database when its
	// pool is first opened. Default false.
	MigrateOnOpen bool `koanf:"migrate_on_open"`
}

// TenantConfig is data.tenancy.tenants.<id>.
type TenantConfig struct {
	// Driver is auto, postgres, mysql or sqlite, as data.driver. Default
	// auto.
	Driver string `koanf:"driver" validate:"omitempty,oneof=auto postgres mysql sqlite"`
	// DSN is the tenant's database. Default empty: the primary's.
	DSN app.Secret `koanf:"dsn"`
	// Schema puts the tenant in this Postgres schema of DSN's database
	// (see [TenantDB].Schema). Default empty: the database itself.
	Schema string `koanf:"schema"`
}

// MigrateConfig is data.migrate.
type MigrateConfig struct {
	// OnStart applies pending migrations to the primary at start, under a
	// lock so that instances starting together run each once. Default false.
	OnStart bool `koanf:"on_start"`
	// Table records applied versions. Default goose_db_version
	// ([DefaultMigrateTable]).
	Table string `koanf:"table" validate:"required"`
}

// DefaultConfig returns the built-in defaults (the Default* constants):
// SQLite at var/apex.db, tenancy off.
func DefaultConfig() Config {
	return Config{
		Driver:     DefaultDriver,
		SQLitePath: DefaultSQLitePath,
		Pool: PoolConfig{
			MaxOpen: DefaultMaxOpen, MaxIdle: DefaultMaxIdle, ConnMaxLifetime: DefaultConnMaxLifetime,
			ConnMaxIdleTime: DefaultConnMaxIdleTime, ConnectTimeout: DefaultConnectTimeout,
		},
		SlowQueryThreshold: DefaultSlowQueryThreshold,
		Tenancy: TenancyConfig{
			Header: DefaultTenantHeader, MaxOpen: DefaultTenantMaxOpen, MaxOpening: DefaultTenantMaxOpening,
			IdleTTL: DefaultTenantIdleTTL, CatalogTTL: DefaultCatalogTTL,
			UnknownCacheSize: DefaultUnknownCacheSize, UnknownTTL: DefaultUnknownTTL,
			Pool: PoolConfig{MaxOpen: DefaultTenantPoolMaxOpen, MaxIdle: DefaultTenantPoolMaxIdle},
		},
		Migrate: MigrateConfig{Table: DefaultMigrateTable},
	}
}

var dbNameRE = regexp.MustCompile(`^[a-z0-9_-]{1,48}$`)

// Validate implements app.Validator.
func (c Config) Validate() []app.Problem {
	var ps []app.Problem
	if (c.Driver == "postgres" || c.Driver == "mysql") && !c.DSN.IsSet() {
		ps = append(ps, app.Problem{Key: "dsn", Message: "is required with driver " + c.Driver})
	}
	if c.DSN.IsSet() {
		if _, _, err := resolveDriver(c.Driver, c.DSN.Reveal()); err != nil {
			ps = append(ps, app.Problem{Key: "dsn", Message: err.Error()})
		}
	}
	for name, d := range c.Databases {
		if !dbNameRE.MatchString(name) {
			ps = append(ps, app.Problem{Key: "databases." + name, Message: "name must be 1-48 of a-z 0-9 _ -"})
		}
		if !d.DSN.IsSet() {
			ps = append(ps, app.Problem{Key: "databases." + name + ".dsn", Message: "is required"})
		} else if _, _, err := resolveDriver(d.Driver, d.DSN.Reveal()); err != nil {
			ps = append(ps, app.Problem{Key: "databases." + name + ".dsn", Message: err.Error()})
		}
	}
	t := c.Tenancy
	if t.DSNTemplate.IsSet() && !strings.Contains(t.DSNTemplate.Reveal(), "{tenant}") {
		ps = append(ps, app.Problem{Key: "tenancy.dsn_template", Message: "must contain {tenant}"})
	}
	if t.SchemaTemplate != "" {
		if !strings.Contains(t.SchemaTemplate, "{tenant}") {
			ps = append(ps, app.Problem{Key: "tenancy.schema_template", Message: "must contain {tenant}"})
		}
		if t.DSNTemplate.IsSet() {
			ps = append(ps, app.Problem{Key: "tenancy.schema_template", Message: "set either dsn_template or schema_template, not both"})
		}
	}
	if room, key := t.idRoom(); room < minIDRoom {
		ps = append(ps, app.Problem{Key: key, Message: fmt.Sprintf(
			"leaves room for tenant IDs of %d bytes, fewer than %d: Postgres cuts names at %d bytes, so longer IDs would share a database or schema; shorten the template",
			max(room, 0), minIDRoom, maxIdent)})
	}
	for id, tc := range t.Tenants {
		if !ValidTenantID(id) {
			ps = append(ps, app.Problem{Key: "tenancy.tenants." + id, Message: "is not a valid tenant ID"})
		}
		if len(tc.Schema) > maxIdent {
			ps = append(ps, app.Problem{Key: "tenancy.tenants." + id + ".schema", Message: fmt.Sprintf("is longer than %d bytes (Postgres would cut it)", maxIdent)})
		}
	}
	return ps
}

// maxIdent is the longest name Postgres keeps (NAMEDATALEN-1): longer
// database and schema names are cut to it, so two names that differ only
// past it are one.
const maxIdent = 63

// minIDRoom is the shortest tenant ID length a template may leave.
const minIDRoom = 8

// idRoom returns how long a tenant ID may be so that the Postgres
// database, schema or search_path the templates expand it to stays within
// maxIdent bytes, and the key of the template that limits it: the whole
// ID length allowed by TenantIDPattern when no template limits it.
func (t TenancyConfig) idRoom() (room int, key string) {
	room = maxIdent
	limit := func(name, k string) {
		n := strings.Count(name, idMarker)
		if n == 0 {
			return
		}
		if r := (maxIdent - (len(name) - n*len(idMarker))) / n; r < room {
			room, key = r, k
		}
	}
	if t.SchemaTemplate != "" {
		limit(strings.ReplaceAll(t.SchemaTemplate, "{tenant}", idMarker), "tenancy.schema_template")
	}
	if t.DSNTemplate.IsSet() {
		expanded := strings.ReplaceAll(t.DSNTemplate.Reveal(), "{tenant}", idMarker)
		if driver, dsn, err := resolveDriver("", expanded); err == nil && driver == Postgres {
			if pc, err := pgconn.ParseConfig(dsn); err == nil {
				limit(pc.Database, "tenancy.dsn_template")
				limit(pc.RuntimeParams["search_path"], "tenancy.dsn_template")
			}
		}
	}
	return room, key
}

// idMarker stands for {tenant} while a template is parsed.
const idMarker = "apexTenantIDMarker"

// primary returns the primary database's settings.
func (c Config) primary() DBConfig {
	d := DBConfig{Driver: c.Driver, DSN: c.DSN, Pool: c.Pool}
	if !c.DSN.IsSet() {
		d.DSN = app.NewSecret("sqlite:" + c.SQLitePath)
		if d.Driver == "auto" {
			d.Driver = "sqlite"
		}
	}
	return d
}

// inherit fills p's zero fields from base.
func (p PoolConfig) inherit(base PoolConfig) PoolConfig {
	if p.MaxOpen == 0 {
		p.MaxOpen = base.MaxOpen
	}
	if p.MaxIdle == 0 {
		p.MaxIdle = base.MaxIdle
	}
	if p.ConnMaxLifetime == 0 {
		p.ConnMaxLifetime = base.ConnMaxLifetime
	}
	if p.ConnMaxIdleTime == 0 {
		p.ConnMaxIdleTime = base.ConnMaxIdleTime
	}
	if p.ConnectTimeout == 0 {
		p.ConnectTimeout = base.ConnectTimeout
	}
	return p
}

// TenantIDPattern is what a tenant ID must match: an ASCII letter or
// digit, then up to 62 letters, digits, '_' or '-'. IDs end up in DSNs
// and schema names, so nothing else is accepted. With
// data.tenancy.dsn_template (Postgres) or schema_template, IDs not listed
// under data.tenancy.tenants are also limited to what keeps the database
// or schema name within Postgres's 63 bytes: 63 minus the template's
// other characters (56 for "tenant_{tenant}"). Longer IDs are invalid.
const TenantIDPattern = `^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`

// ValidTenantID reports whether id matches [TenantIDPattern].
func ValidTenantID(id string) bool {
	if len(id) == 0 || len(id) > 63 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}
