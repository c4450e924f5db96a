package data

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apexgo/apex/internal/sqldb"
	"github.com/glebarez/sqlite"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"
	"gorm.io/plugin/opentelemetry/tracing"
)

// The drivers.
const (
	Postgres = sqldb.Postgres
	MySQL    = sqldb.MySQL
	SQLite   = sqldb.SQLite
)

// OpenParams are the optional parts of [Open].
type OpenParams struct {
	// Name labels the database in logs, spans, metrics and health checks.
	// Default "primary".
	Name string
	// Setting is the config key named in connection errors. Default
	// "data.dsn".
	Setting string
	// Log receives slow queries (WARN) and failed ones (ERROR). Default: none.
	Log *zap.Logger
	// SlowQueryThreshold logs statements slower than this at WARN. Default
	// 0: no slow-query log (the module passes data.slow_query_threshold).
	SlowQueryThreshold time.Duration
	// TracerProvider, when set, traces every statement with gorm's
	// OpenTelemetry plugin (statement text, never the values). Default:
	// none.
	TracerProvider trace.TracerProvider
	// TablePrefix prefixes the table names gorm derives from model names.
	// gorm ignores it for models with a TableName method and for
	// db.Table, so it cannot isolate a schema; tenants use search_path.
	// Default: none.
	TablePrefix string
}

func (p OpenParams) withDefaults() OpenParams {
	if p.Name == "" {
		p.Name = "primary"
	}
	if p.Setting == "" {
		p.Setting = "data.dsn"
	}
	if p.Log == nil {
		p.Log = zap.NewNop()
	}
	return p
}

// resolveDriver returns the driver and the DSN in the form its Go driver
// takes.
func resolveDriver(driver, dsn string) (string, string, error) {
	if driver == "" {
		driver = "auto"
	}
	scheme, rest, hasScheme := strings.Cut(dsn, ":")
	if !hasScheme || strings.ContainsAny(scheme, "@/( =") {
		scheme = ""
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		return check(driver, Postgres, dsn)
	case "mysql":
		d, err := mysqlURL(dsn)
		if err != nil {
			return "", "", err
		}
		return check(driver, MySQL, d)
	case "sqlite", "sqlite3":
		return check(driver, SQLite, strings.TrimPrefix(rest, "//"))
	case "file":
		return check(driver, SQLite, dsn)
	}
	switch {
	case strings.Contains(dsn, "@tcp(") || strings.Contains(dsn, "@unix("):
		return check(driver, MySQL, dsn)
	case strings.Contains(dsn, "host=") || strings.Contains(dsn, "dbname="):
		return check(driver, Postgres, dsn)
	case driver == "auto":
		if dsn == ":memory:" || strings.HasSuffix(dsn, ".db") || strings.HasSuffix(dsn, ".sqlite") {
			return SQLite, dsn, nil
		}
		return "", "", errors.New("cannot tell the driver from the DSN: start it with postgres://, mysql:// or sqlite:")
	}
	return driver, dsn, nil
}

func check(configured, found, dsn string) (string, string, error) {
	if configured != "auto" && configured != found {
		return "", "", fmt.Errorf("is a %s DSN but the driver is %s", found, configured)
	}
	return found, dsn, nil
}

// mysqlURL turns mysql://user:pass@host:port/db?params into the
// go-sql-driver form, with parseTime=true unless set.
func mysqlURL(dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", errors.New("is not a valid mysql:// URL")
	}
	q := u.Query()
	if q.Get("parseTime") == "" {
		q.Set("parseTime", "true")
	}
	var b strings.Builder
	if u.User != nil {
		b.WriteString(u.User.Username())
		if pw, ok := u.User.Password(); ok {
			b.WriteString(":" + pw)
		}
		b.WriteString("@")
	}
	host := u.Host
	if u.Port() == "" {
		host += ":3306"
	}
	b.WriteString("tcp(" + host + ")/" + strings.TrimPrefix(u.Path, "/") + "?" + q.Encode())
	return b.String(), nil
}

// sqliteDSN returns the driver DSN for a path or file: URI, with WAL,
// a busy timeout, foreign keys and immediate write transactions, so that
// concurrent writers wait for each other instead of failing with
// "database is locked". memory reports an in-memory database.
func sqliteDSN(path string) (dsn string, memory bool, err error) {
	memory = path == ":memory:" || strings.Contains(path, "mode=memory")
	base, query, _ := strings.Cut(path, "?")
	if !memory {
		file := strings.TrimPrefix(base, "file:")
		if dir := filepath.Dir(file); dir != "." && dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return "", false, err
			}
		}
		base = "file:" + file
	}
	params := []string{"_pragma=busy_timeout(10000)", "_pragma=foreign_keys(1)", "_txlock=immediate"}
	if !memory {
		params = append(params, "_pragma=journal_mode(WAL)", "_pragma=synchronous(NORMAL)")
	}
	if query != "" {
		params = append(params, query)
	}
	return base + "?" + strings.Join(params, "&"), memory, nil
}

// describe names a database for errors without its credentials.
func describe(driver, dsn string) string {
	switch driver {
	case SQLite:
		base, _, _ := strings.Cut(dsn, "?")
		return "SQLite " + base
	case MySQL:
		if i := strings.LastIndex(dsn, "@"); i >= 0 {
			dsn = dsn[i+1:]
		}
		base, _, _ := strings.Cut(dsn, "?")
		return "MySQL " + base
	default:
		if u, err := url.Parse(dsn); err == nil && u.Host != "" {
			return "Postgres " + u.Host + u.Path
		}
		return "Postgres"
	}
}

// Open returns a gorm database for cfg, configured but not yet connected
// (database/sql connects lazily): call [Ping] to check it, as the
// module's start hook does, before using it. For MySQL, the first
// successful Ping also reads the server's version and chooses MariaDB or
// MySQL syntax from it, which gorm would otherwise do here. Its errors
// are translated to this package's sentinels, statements are logged and
// traced as p says, and the pool is sized by cfg.Pool. A SQLite file's
// directory is created.
func Open(cfg DBConfig, p OpenParams) (*gorm.DB, error) {
	p = p.withDefaults()
	driver, dsn, err := resolveDriver(cfg.Driver, cfg.DSN.Reveal())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Setting, err)
	}
	pool := cfg.Pool
	var dialector gorm.Dialector
	memory := false
	switch driver {
	case Postgres:
		dialector = postgres.New(postgres.Config{DSN: dsn})
	case MySQL:
		// gorm's MySQL dialector would ask the server for its version here,
		// to pick MariaDB or MySQL syntax; Ping does it instead (settleDialect).
		dialector = mysql.New(mysql.Config{DSN: dsn, SkipInitializeWithVersion: true})
	case SQLite:
		if dsn, memory, err = sqliteDSN(dsn); err != nil {
			return nil, fmt.Errorf("%s: %w", p.Setting, err)
		}
		dialector = sqlite.Open(dsn)
	}
	db, err := newGorm(dialector, driver, p)
	if err == nil && driver == MySQL {
		err = db.Use(&mysqlDialect{})
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", p.Setting, describe(driver, dsn), err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	if memory {
		// Every connection to :memory: is a database of its own: keep one,
		// forever.
		pool = PoolConfig{MaxOpen: 1, MaxIdle: 1, ConnectTimeout: pool.ConnectTimeout}
	}
	applyPool(sqlDB, pool)
	return db, nil
}

func applyPool(db *sql.DB, p PoolConfig) {
	db.SetMaxOpenConns(p.MaxOpen)
	db.SetMaxIdleConns(p.MaxIdle)
	db.SetConnMaxLifetime(p.ConnMaxLifetime)
	db.SetConnMaxIdleTime(p.ConnMaxIdleTime)
}

// newGorm opens gorm on dialector with apex's logger, error translation
// and tracing.
func newGorm(dialector gorm.Dialector, driver string, p OpenParams) (*gorm.DB, error) {
	conf := &gorm.Config{
		Logger:               newLogger(p.Log, p.Name, p.SlowQueryThreshold),
		DisableAutomaticPing: true,
	}
	if p.TablePrefix != "" {
		conf.NamingStrategy = schema.NamingStrategy{TablePrefix: p.TablePrefix}
	}
	db, err := gorm.Open(dialector, conf)
	if err != nil {
		return nil, err
	}
	if err := db.Use(translator{driver: driver}); err != nil {
		return nil, err
	}
	if err := db.Use(placeholders{}); err != nil {
		return nil, err
	}
	if p.TracerProvider != nil {
		if err := db.Use(tracing.NewPlugin(tracing.WithTracerProvider(p.TracerProvider),
			tracing.WithDBName(p.Name), tracing.WithoutQueryVariables(), tracing.WithoutMetrics())); err != nil {
			return nil, err
		}
	}
	return db, nil
}

// Driver returns the driver of a database from [Open]: postgres, mysql or
// sqlite.
func Driver(db *gorm.DB) string { return sqldb.Dialect(db) }

// Ping connects to db, retrying with backoff until it answers or ctx ends;
// each attempt is bounded by timeout. The error names setting, the
// database (without credentials) and the last failure. On a MySQL
// database from [Open], the first successful Ping reads the server's
// version and settles MariaDB or MySQL syntax: call it before the
// database is used, not concurrently with statements.
func Ping(ctx context.Context, db *gorm.DB, timeout time.Duration, setting string) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	if err := pingSQL(ctx, sqlDB, timeout); err != nil {
		return fmt.Errorf("%s: cannot connect to %s: %w", setting, Describe(db), Translate(err))
	}
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	vctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := settleDialect(vctx, db, sqlDB); err != nil {
		return fmt.Errorf("%s: %s: reading the server version: %w", setting, Describe(db), Translate(err))
	}
	return nil
}

func pingSQL(ctx context.Context, sqlDB *sql.DB, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	backoff := 50 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := sqlDB.PingContext(actx)
		cancel()
		if err == nil {
			return nil
		}
		if classify(err) == errNoDatabase {
			// The database does not exist: retrying will not create it.
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// Describe names db's driver and address, without credentials.
func Describe(db *gorm.DB) string {
	switch d := db.Dialector.(type) {
	case *postgres.Dialector:
		return describe(Postgres, d.DSN)
	case *mysql.Dialector:
		return describe(MySQL, d.DSN)
	case *sqlite.Dialector:
		return describe(SQLite, d.DSN)
	}
	return db.Dialector.Name()
}
