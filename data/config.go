package data

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/apexgo/apex/app"
)

// Config is the "data" section.
type Config struct {
	// Driver is auto, postgres, mysql or sqlite. auto (the default) picks
	// the driver named by the DSN's scheme when DSN is set, SQLite otherwise.
	Driver string `koanf:"driver" validate:"oneof=auto postgres mysql sqlite"`
	// DSN is the primary database: postgres://user:pass@host:5432/db,
	// mysql://user:pass@host:3306/db (or the go-sql-driver form
	// user:pass@tcp(host:3306)/db), sqlite:path/to/file.db or
	// sqlite::memory:. Empty: SQLite at SQLitePath.
	DSN app.Secret `koanf:"dsn"`
	// SQLitePath is the SQLite file used when DSN is empty; its directory
	// is created. Relative to the working directory. Default var/apex.db.
	SQLitePath string `koanf:"sqlite_path" validate:"required"`
	// Pool sizes the primary's connection pool (and, key by key, the named
	// databases' pools unless they set their own).
	Pool PoolConfig `koanf:"pool"`
	// SlowQueryThreshold logs statements slower than this at WARN with the
	// SQL and duration; 0 disables. Default 200ms.
	SlowQueryThreshold time.Duration `koanf:"slow_query_threshold" validate:"gte=0"`
	// Databases are named secondary databases (analytics, audit), opened
	// at start and closed at stop, each with its own readiness check.
	// Names are lower-case letters, digits, _ and -.
	Databases map[string]DBConfig `koanf:"databases" validate:"dive"`
	// Tenancy configures a database (or schema) per tenant.
	Tenancy TenancyConfig `koanf:"tenancy"`
	// Migrate configures migrations of the primary database.
	Migrate MigrateConfig `koanf:"migrate"`
}

// DBConfig is one database: data.databases.<name>.
type DBConfig struct {
	// Driver is auto, postgres, mysql or sqlite, as data.driver.
	Driver string `koanf:"driver" validate:"omitempty,oneof=auto postgres mysql sqlite"`
	// DSN is required for a named database.
	DSN app.Secret `koanf:"dsn"`
	// Pool: zero values take the primary's.
	Pool PoolConfig `koanf:"pool"`
}

// PoolConfig sizes a connection pool.
type PoolConfig struct {
	// MaxOpen bounds open connections; 0 is unlimited. Default 20.
	MaxOpen int `koanf:"max_open" validate:"gte=0"`
	// MaxIdle bounds idle connections kept. Default 10.
	MaxIdle int `koanf:"max_idle" validate:"gte=0"`
	// ConnMaxLifetime recycles connections older than this. Default 30m.
	ConnMaxLifetime time.Duration `koanf:"conn_max_lifetime" validate:"gte=0"`
	// ConnMaxIdleTime closes connections idle longer. Default 5m.
	ConnMaxIdleTime time.Duration `koanf:"conn_max_idle_time" validate:"gte=0"`
	// ConnectTimeout bounds one connection attempt and each start-time
	// ping; the start hook retries with backoff within the start budget.
	// Default 5s.
	ConnectTimeout time.Duration `koanf:"connect_timeout" validate:"gte=0"`
}

// TenancyConfig is data.tenancy.
type TenancyConfig struct {
	// Enabled turns tenancy on: the middleware requires a tenant on every
	// route but SkipPaths, and Registry.DB serves the tenant's database.
	// Default false.
	Enabled bool `koanf:"enabled"`
	// Header carries the tenant ID. Default X-Tenant-ID.
	Header string `koanf:"header" validate:"required"`
	// MaxOpen bounds the tenant pools kept open; the least recently used
	// is closed first. Default 50.
	MaxOpen int `koanf:"max_open" validate:"gte=1"`
	// IdleTTL closes a tenant pool unused this long. Default 10m.
	IdleTTL time.Duration `koanf:"idle_ttl" validate:"gt=0"`
	// UnknownCacheSize bounds the tenant IDs remembered as unknown (the
	// resolver said so, or their database or schema does not exist), so
	// that requests naming them cost no resolve or connect; the oldest is
	// forgotten first. Resolver failures are not remembered. 0 turns the
	// cache off. Default 10000.
	UnknownCacheSize int `koanf:"unknown_cache_size" validate:"gte=0"`
	// UnknownTTL is how long an ID stays remembered as unknown: a tenant
	// created meanwhile is reachable after it at the latest. 0 turns the
	// cache off. Default 30s.
	UnknownTTL time.Duration `koanf:"unknown_ttl" validate:"gte=0"`
	// Pool sizes each tenant's pool. Default max_open 5, max_idle 2, and
	// the primary's timeouts.
	Pool PoolConfig `koanf:"pool"`
	// Tenants lists tenants and where each lives; with DSNTemplate and
	// SchemaTemplate empty, only these exist.
	Tenants map[string]TenantConfig `koanf:"tenants" validate:"dive"`
	// DSNTemplate is a DSN with {tenant} in it: a database per tenant.
	DSNTemplate app.Secret `koanf:"dsn_template"`
	// SchemaTemplate is a Postgres schema name with {tenant} in it
	// ("tenant_{tenant}"): a schema per tenant in the primary database,
	// each tenant on a pool of its own whose search_path is the schema
	// (quoted: the case of the ID is kept).
	SchemaTemplate string `koanf:"schema_template"`
	// SkipPaths are request paths served without a tenant: exact, or a
	// prefix when ending in "/". The health and metrics endpoints are
	// always skipped.
	SkipPaths []string `koanf:"skip_paths"`
	// MigrateOnOpen runs the migrations on a tenant's database when its
	// pool is first opened. Default false.
	MigrateOnOpen bool `koanf:"migrate_on_open"`
}

// TenantConfig is data.tenancy.tenants.<id>.
type TenantConfig struct {
	Driver string     `koanf:"driver" validate:"omitempty,oneof=auto postgres mysql sqlite"`
	DSN    app.Secret `koanf:"dsn"`
	Schema string     `koanf:"schema"`
}

// MigrateConfig is data.migrate.
type MigrateConfig struct {
	// OnStart applies pending migrations to the primary at start, under a
	// lock so that instances starting together run each once. Default false.
	OnStart bool `koanf:"on_start"`
	// Table records applied versions. Default goose_db_version.
	Table string `koanf:"table" validate:"required"`
}

// DefaultConfig returns the built-in defaults: SQLite at var/apex.db.
func DefaultConfig() Config {
	return Config{
		Driver:     "auto",
		SQLitePath: "var/apex.db",
		Pool: PoolConfig{
			MaxOpen: 20, MaxIdle: 10, ConnMaxLifetime: 30 * time.Minute,
			ConnMaxIdleTime: 5 * time.Minute, ConnectTimeout: 5 * time.Second,
		},
		SlowQueryThreshold: 200 * time.Millisecond,
		Tenancy: TenancyConfig{
			Header: "X-Tenant-ID", MaxOpen: 50, IdleTTL: 10 * time.Minute,
			UnknownCacheSize: 10000, UnknownTTL: 30 * time.Second,
			Pool: PoolConfig{MaxOpen: 5, MaxIdle: 2},
		},
		Migrate: MigrateConfig{Table: "goose_db_version"},
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
