package data

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"go.uber.org/zap"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/apexgo/apex/app"
)

// Migrations are the versioned SQL migrations an app supplies through fx:
//
//	//go:embed migrations/*.sql
//	var migrations embed.FS
//	fx.Supply(data.Migrations{FS: must(fs.Sub(migrations, "migrations"))})
//
// Files are goose SQL migrations at the root of FS: 00001_create_users.sql
// with `-- +goose Up` and `-- +goose Down` sections.
type Migrations struct {
	FS fs.FS
}

// MigratorParams are the optional parts of [NewMigrator].
type MigratorParams struct {
	// Table records applied versions. Default goose_db_version
	// ([DefaultMigrateTable]).
	Table string
	// Schema runs the migrations in this Postgres schema (a tenant's):
	// unqualified names in them, and the version table, live there.
	Schema string
	// DSN opens the database when Schema is set and db shares a pool
	// (Open's DSN is used otherwise).
	DSN app.Secret
	// Log receives one INFO line per migration applied. Default: none.
	Log *zap.Logger
}

// Migrator applies goose migrations to one database, under a lock held
// for the whole run (Postgres advisory lock, MySQL GET_LOCK; SQLite files
// have one writer), so that instances starting together apply each
// migration once.
type Migrator struct {
	p      *goose.Provider
	closer func() error
	log    *zap.Logger
	// run serializes whole operations across processes. goose's own
	// session lock does not cover its pending-migrations check, which
	// creates the version table unlocked; on MySQL, whose DDL commits at
	// once, another process could then see the table before its first row
	// and fail with "missing zero version migration". Nil on SQLite.
	run   sessionLocker
	sqlDB *sql.DB
}

type sessionLocker interface {
	SessionLock(ctx context.Context, conn *sql.Conn) error
	SessionUnlock(ctx context.Context, conn *sql.Conn) error
}

// locked runs f holding m.run on a connection of its own.
func (m *Migrator) locked(ctx context.Context, f func() error) error {
	if m.run == nil {
		return f()
	}
	conn, err := m.sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := m.run.SessionLock(ctx, conn); err != nil {
		return fmt.Errorf("data: migration lock: %w", err)
	}
	defer func() {
		// Unlock even if ctx ended, but never wait on a stalled server.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = m.run.SessionUnlock(uctx, conn)
	}()
	return f()
}

// MigrationStatus is one migration and whether it is applied.
type MigrationStatus struct {
	Version   int64
	Name      string
	Applied   bool
	AppliedAt time.Time
}

// NewMigrator returns a migrator of db (from [Open]) for the migrations
// in fsys. Call Close when done if p.Schema is set.
func NewMigrator(db *gorm.DB, fsys fs.FS, p MigratorParams) (*Migrator, error) {
	if p.Table == "" {
		p.Table = DefaultMigrateTable
	}
	if p.Log == nil {
		p.Log = zap.NewNop()
	}
	driver := Driver(db)
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	closer := func() error { return nil }
	if p.Schema != "" {
		if driver != Postgres {
			return nil, errors.New("data: migrations in a schema need Postgres")
		}
		// A small pool whose search_path is the schema (db's connections
		// may be on another, the primary's for instance).
		dsn := p.DSN.Reveal()
		if d, ok := db.Dialector.(*postgres.Dialector); ok && dsn == "" {
			dsn = d.DSN
		}
		if dsn == "" {
			return nil, errors.New("data: migrations in a schema need MigratorParams.DSN")
		}
		if sqlDB, err = sql.Open("pgx", withSearchPath(dsn, p.Schema)); err != nil {
			return nil, err
		}
		sqlDB.SetMaxOpenConns(2)
		closer = sqlDB.Close
	}
	var dialect goose.Dialect
	var locker, run sessionLocker
	h := fnv.New64a()
	_, _ = h.Write([]byte("apex.migrate:" + p.Schema + ":" + p.Table))
	hr := fnv.New64a()
	_, _ = hr.Write([]byte("apex.migrate.run:" + p.Schema + ":" + p.Table))
	switch driver {
	case Postgres:
		dialect, locker = goose.DialectPostgres, pgLocker{id: int64(h.Sum64() >> 1)}
		run = pgLocker{id: int64(hr.Sum64() >> 1)}
	case MySQL:
		dialect, locker = goose.DialectMySQL, mysqlLocker{name: "apex.migrate." + p.Table}
		run = mysqlLocker{name: "apex.migrun." + p.Table}
	default:
		dialect = goose.DialectSQLite3
	}
	opts := []goose.ProviderOption{goose.WithTableName(p.Table), goose.WithDisableGlobalRegistry(true)}
	if locker != nil {
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	prov, err := goose.NewProvider(dialect, sqlDB, fsys, opts...)
	if err != nil {
		_ = closer()
		return nil, err
	}
	return &Migrator{p: prov, closer: closer, log: p.Log, run: run, sqlDB: sqlDB}, nil
}

// Close releases what the migrator opened (not db).
func (m *Migrator) Close() error { return m.closer() }

// Up applies every pending migration and returns how many it applied.
func (m *Migrator) Up(ctx context.Context) (int, error) {
	var res []*goose.MigrationResult
	err := m.locked(ctx, func() (err error) {
		res, err = m.p.Up(ctx)
		return err
	})
	m.logResults(res)
	return len(res), err
}

// Down rolls back the latest applied migration.
func (m *Migrator) Down(ctx context.Context) error {
	var res *goose.MigrationResult
	err := m.locked(ctx, func() (err error) {
		res, err = m.p.Down(ctx)
		return err
	})
	if res != nil {
		m.logResults([]*goose.MigrationResult{res})
	}
	return err
}

// Version returns the latest applied version, 0 for none.
func (m *Migrator) Version(ctx context.Context) (v int64, err error) {
	err = m.locked(ctx, func() (err error) {
		v, err = m.p.GetDBVersion(ctx)
		return err
	})
	return v, err
}

// Status lists every migration, applied or not, by version.
func (m *Migrator) Status(ctx context.Context) ([]MigrationStatus, error) {
	var st []*goose.MigrationStatus
	err := m.locked(ctx, func() (err error) {
		st, err = m.p.Status(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]MigrationStatus, 0, len(st))
	for _, s := range st {
		out = append(out, MigrationStatus{
			Version: s.Source.Version, Name: filepath.Base(s.Source.Path),
			Applied: s.State == goose.StateApplied, AppliedAt: s.AppliedAt,
		})
	}
	return out, nil
}

func (m *Migrator) logResults(res []*goose.MigrationResult) {
	for _, r := range res {
		if r.Error == nil {
			m.log.Info("migration applied", zap.String("migration", filepath.Base(r.Source.Path)),
				zap.String("direction", r.Direction), zap.Duration("duration", r.Duration))
		}
	}
}

var migrationNameRE = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// CreateMigration writes dir/<timestamp>_<name>.sql with empty Up and
// Down sections and returns its path. name is lower-case letters, digits
// and underscores.
func CreateMigration(dir, name string, now time.Time) (string, error) {
	if !migrationNameRE.MatchString(name) {
		return "", fmt.Errorf("data: migration name %q: use 1-64 of a-z 0-9 _", name)
	}
	path := filepath.Join(dir, now.UTC().Format("20060102150405")+"_"+name+".sql")
	body := "-- +goose Up\n-- +goose StatementBegin\n\n-- +goose StatementEnd\n\n-- +goose Down\n-- +goose StatementBegin\n\n-- +goose StatementEnd\n"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(body); err != nil {
		_ = f.Close()
		return "", err
	}
	return path, f.Close()
}

// pgLocker holds a session-level advisory lock (blocking, ended by ctx).
type pgLocker struct{ id int64 }

func (l pgLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", l.id)
	return err
}

func (l pgLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", l.id)
	return err
}

// mysqlLocker holds GET_LOCK, named per database, retried until ctx ends.
type mysqlLocker struct{ name string }

func (l mysqlLocker) lockName(ctx context.Context, conn *sql.Conn) (string, error) {
	var db sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&db); err != nil {
		return "", err
	}
	name := l.name + "." + db.String
	if len(name) > 64 {
		h := fnv.New64a()
		_, _ = h.Write([]byte(name))
		name = fmt.Sprintf("apex.migrate.%x", h.Sum64())
	}
	return name, nil
}

func (l mysqlLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	name, err := l.lockName(ctx, conn)
	if err != nil {
		return err
	}
	for {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 1)", name).Scan(&got); err != nil {
			return err
		}
		if got.Valid && got.Int64 == 1 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

func (l mysqlLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	name, err := l.lockName(ctx, conn)
	if err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, "SELECT RELEASE_LOCK(?)", name)
	return err
}

// withSearchPath sets search_path in a pgx DSN (URL or key=value) to
// schema, quoted: Postgres would otherwise fold it to lower case.
func withSearchPath(dsn, schema string) string {
	quoted := quoteIdent(schema)
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			q := u.Query()
			q.Set("search_path", quoted)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return dsn + " search_path='" + r.Replace(quoted) + "'"
}

// quoteIdent quotes a Postgres identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

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
		if err := t.opener.migrateTenant(ctx, id, fsys); err != nil {
			return fmt.Errorf("tenant %s: %w", id, err)
		}
	}
	return nil
}
