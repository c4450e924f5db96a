package data

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.uber.org/zap"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/internal/sqldb"
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
	// FS holds the migration files at its root; nil: no migrations.
	FS fs.FS
}

// MigratorParams are the optional parts of [NewMigrator].
type MigratorParams struct {
	// Table records applied versions. Default goose_db_version
	// ([DefaultMigrateTable]).
	Table string
	// Schema runs the migrations in this Postgres schema (a tenant's):
	// unqualified names in them, and the version table, live there.
	// Default: none (the connection's own).
	Schema string
	// DSN opens the database when Schema is set and db shares a pool
	// (Open's DSN is used otherwise). Default: none.
	DSN app.Secret
	// Log receives one INFO line per migration applied. Default: none.
	Log *zap.Logger
}

// Migrator applies goose migrations to one database, under a lock held
// for the whole run (Postgres advisory lock, MySQL GET_LOCK; SQLite files
// have one writer), so that instances starting together apply each
// migration once. Its methods: Up, Down, Version, Status and Close.
type Migrator = sqldb.Migrator

// MigrationStatus is one migration and whether it is applied.
type MigrationStatus = sqldb.Status

// ErrNothingToRollBack is returned by [Migrator.Down] when no migration
// is applied. For use with errors.Is.
var ErrNothingToRollBack = sqldb.ErrNothingToRollBack

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
	return sqldb.NewMigrator(sqlDB, fsys, sqldb.MigratorParams{
		Dialect: driver, Table: p.Table, Scope: p.Schema, Log: p.Log, Closer: closer,
	})
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
