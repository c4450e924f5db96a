package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/internal/testservice"
)

func migrate(t *testing.T, environ []string, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	load := app.LoadParams{Dir: t.TempDir(), DotEnv: "-", Environ: environ}
	if err := run(context.Background(), args, load, &out); err != nil {
		t.Fatalf("migrate %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{
		"sqlite": datatest.SQLiteDSN, "postgres": datatest.PostgresDSN, "mysql": datatest.MySQLDSN,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := []string{"APP_DATA__DSN=" + dsn(t)}
			if out := migrate(t, env, "status"); strings.Count(out, "pending") != 2 {
				t.Fatalf("status before: %s", out)
			}
			if out := migrate(t, env, "up"); !strings.Contains(out, "applied 2 migrations") {
				t.Fatalf("up: %s", out)
			}
			if out := migrate(t, env, "up"); !strings.Contains(out, "applied 0 migrations") {
				t.Fatalf("second up: %s", out)
			}
			migrate(t, env, "down")
			out := migrate(t, env, "status")
			if strings.Count(out, "applied") != 1 || !strings.Contains(out, "00002_add_accounts_name.sql") {
				t.Fatalf("status after down: %s", out)
			}
		})
	}
}

func TestMigrateTenants(t *testing.T) {
	t.Parallel()
	base := testservice.Need(t, testservice.Postgres)
	u := testservice.Unique("m")
	for _, id := range []string{"a", "b"} {
		datatest.PostgresSchema(t, u+"_"+id)
	}
	env := []string{"APP_DATA__DSN=" + base, "APP_DATA__TENANCY__ENABLED=true", "APP_DATA__TENANCY__SCHEMA_TEMPLATE=" + u + "_{tenant}"}
	if out := migrate(t, env, "-tenants", "a,b", "up"); !strings.Contains(out, "migrated 2 tenants") {
		t.Fatalf("tenants up: %s", out)
	}
	// Each schema has its own table and version table.
	db := datatest.Open(t, base)
	for _, id := range []string{"a", "b"} {
		var n int64
		if err := db.Raw("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name IN ('accounts', 'goose_db_version')", u+"_"+id).Scan(&n).Error; err != nil || n != 2 {
			t.Fatalf("schema %s: %d tables, %v", id, n, err)
		}
	}
}

func TestMigrateCreate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := migrate(t, nil, "-dir", dir, "create", "add_plan")
	files, _ := filepath.Glob(filepath.Join(dir, "*_add_plan.sql"))
	if len(files) != 1 || !strings.Contains(out, files[0]) {
		t.Fatalf("created %v, said %s", files, out)
	}
	body, _ := os.ReadFile(files[0])
	if !strings.Contains(string(body), "-- +goose Up") || !strings.Contains(string(body), "-- +goose Down") {
		t.Fatalf("template: %s", body)
	}
	var buf bytes.Buffer
	if err := run(context.Background(), []string{"create", "Bad Name"}, app.LoadParams{}, &buf); err == nil {
		t.Fatal("bad name accepted")
	}
}

// down with nothing applied says so and succeeds (it printed goose's "no
// next version found" and exited 1).
func TestMigrateDownNothingApplied(t *testing.T) {
	t.Parallel()
	env := []string{"APP_DATA__DSN=" + datatest.SQLiteDSN(t)}
	if out := migrate(t, env, "down"); !strings.Contains(out, "nothing to roll back") {
		t.Fatalf("down on an empty database: %q", out)
	}
	migrate(t, env, "up")
	migrate(t, env, "down")
	migrate(t, env, "down")
	if out := migrate(t, env, "down"); !strings.Contains(out, "nothing to roll back") {
		t.Fatalf("down after every migration was rolled back: %q", out)
	}
}

// Without data.dsn the command works on a file of its own, var/migrate.db,
// never the default var/apex.db that other examples would share.
func TestMigrateOwnDatabaseFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	migrate(t, nil, "up")
	if _, err := os.Stat(filepath.Join(dir, SQLitePath)); err != nil {
		t.Fatalf("%s: %v", SQLitePath, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "var", "apex.db")); err == nil {
		t.Fatal("var/apex.db was created")
	}
}
