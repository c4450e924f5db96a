package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/pressly/goose/v3"
	"go.uber.org/zap"
)

// MigratorParams configure [NewMigrator].
type MigratorParams struct {
	// Dialect is the database's: Postgres, MySQL or SQLite.
	Dialect string
	// Table records applied versions; required.
	Table string
	// Scope tells apart the locks of migrations of one table in several
	// schemas of one database: the schema's name, or "".
	Scope string
	// Log receives one INFO line per migration applied. Default: none.
	Log *zap.Logger
	// Closer releases what the caller opened for this migrator (a pool of
	// its own); Close calls it. Default: nothing.
	Closer func() error
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

// Status is one migration and whether it is applied.
type Status struct {
	// Version is the number the file name starts with.
	Version int64
	// Name is the file name.
	Name string
	// Applied reports whether the migration is applied.
	Applied bool
	// AppliedAt is when it was applied; zero if not.
	AppliedAt time.Time
}

// NewMigrator returns a migrator of the migrations in fsys on sqlDB.
func NewMigrator(sqlDB *sql.DB, fsys fs.FS, p MigratorParams) (*Migrator, error) {
	if p.Table == "" {
		return nil, errors.New("data: migrator needs a version table")
	}
	if p.Log == nil {
		p.Log = zap.NewNop()
	}
	closer := p.Closer
	if closer == nil {
		closer = func() error { return nil }
	}
	var dialect goose.Dialect
	var locker, run sessionLocker
	h := fnv.New64a()
	_, _ = h.Write([]byte("apex.migrate:" + p.Scope + ":" + p.Table))
	hr := fnv.New64a()
	_, _ = hr.Write([]byte("apex.migrate.run:" + p.Scope + ":" + p.Table))
	switch p.Dialect {
	case Postgres:
		dialect, locker = goose.DialectPostgres, pgLocker{id: int64(h.Sum64() >> 1)}
		run = pgLocker{id: int64(hr.Sum64() >> 1)}
	case MySQL:
		dialect, locker = goose.DialectMySQL, mysqlLocker{name: "apex.migrate." + p.Table}
		run = mysqlLocker{name: "apex.migrun." + p.Table}
	case SQLite:
		dialect = goose.DialectSQLite3
	default:
		return nil, fmt.Errorf("data: no migrations for dialect %q", p.Dialect)
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

// ErrNothingToRollBack is returned by [Migrator.Down] when no migration
// is applied. For use with errors.Is.
var ErrNothingToRollBack = errors.New("data: no migration applied, nothing to roll back")

// Down rolls back the latest applied migration; with none applied it
// returns [ErrNothingToRollBack].
func (m *Migrator) Down(ctx context.Context) error {
	var res *goose.MigrationResult
	err := m.locked(ctx, func() (err error) {
		res, err = m.p.Down(ctx)
		return err
	})
	if errors.Is(err, goose.ErrNoNextVersion) {
		err = ErrNothingToRollBack
	}
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
func (m *Migrator) Status(ctx context.Context) ([]Status, error) {
	var st []*goose.MigrationStatus
	err := m.locked(ctx, func() (err error) {
		st, err = m.p.Status(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(st))
	for _, s := range st {
		out = append(out, Status{
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
