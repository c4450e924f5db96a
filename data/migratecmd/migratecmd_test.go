package migratecmd_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/data/migratecmd"
)

var migrations = fstest.MapFS{
	"00001_widgets.sql": {Data: []byte("-- +goose Up\nCREATE TABLE mc_widgets (id INTEGER PRIMARY KEY);\n\n-- +goose Down\nDROP TABLE mc_widgets;\n")},
	"00002_gadgets.sql": {Data: []byte("-- +goose Up\nCREATE TABLE mc_gadgets (id INTEGER PRIMARY KEY);\n\n-- +goose Down\nDROP TABLE mc_gadgets;\n")},
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"sideways"}, {"up", "extra"}, {"-tenants", "a", "down"}, {"create"}, {"create", "a", "b"}} {
		var out bytes.Buffer
		err := migratecmd.Run(context.Background(), args, migratecmd.Params{Migrations: migrations, Out: &out})
		if !errors.Is(err, migratecmd.ErrUsage) || !strings.Contains(err.Error(), "usage: migrate") {
			t.Errorf("migrate %q: %v, want the usage", args, err)
		}
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out bytes.Buffer
	now := func() time.Time { return time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC) }
	if err := migratecmd.Run(context.Background(), []string{"-dir", dir, "create", "add_plan"}, migratecmd.Params{Out: &out, Now: now}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "20261201200000_add_plan.sql")
	if b, err := os.ReadFile(path); err != nil || !strings.Contains(string(b), "-- +goose Up") || !strings.Contains(out.String(), path) {
		t.Fatalf("create wrote %q (%v), said %q", b, err, out.String())
	}
}

// The whole cycle on a real database, configured as the service is, by
// APP_DATA__DSN.
func TestCycle(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": datatest.SQLiteDSN, "postgres": datatest.PostgresDSN, "mariadb": datatest.MySQLDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			load := app.LoadParams{Dir: t.TempDir(), DotEnv: "-", Environ: []string{"APP_DATA__DSN=" + dsn(t)}}
			migrate := func(args ...string) string {
				t.Helper()
				var out bytes.Buffer
				if err := migratecmd.Run(context.Background(), args, migratecmd.Params{Migrations: migrations, Table: "mc_version", Load: load, Out: &out}); err != nil {
					t.Fatalf("migrate %v: %v", args, err)
				}
				return out.String()
			}
			if out := migrate("status"); strings.Count(out, "pending") != 2 {
				t.Fatalf("status before up:\n%s", out)
			}
			if out := migrate("up"); out != "applied 2 migrations\n" {
				t.Fatalf("up: %q", out)
			}
			if out := migrate("status"); strings.Count(out, "applied 20") != 2 {
				t.Fatalf("status after up:\n%s", out)
			}
			migrate("down")
			if out := migrate("status"); !strings.Contains(out, "00002_gadgets.sql") || strings.Count(out, "pending") != 1 {
				t.Fatalf("status after down:\n%s", out)
			}
			migrate("down")
			if out := migrate("down"); !strings.Contains(out, "nothing to roll back") {
				t.Fatalf("down with nothing applied: %q", out)
			}
		})
	}
}

func TestBadConfigNamesTheKey(t *testing.T) {
	t.Parallel()
	load := app.LoadParams{Dir: t.TempDir(), DotEnv: "-", Environ: []string{"APP_DATA__POOL__MAX_OPEN=-3"}}
	err := migratecmd.Run(context.Background(), []string{"up"}, migratecmd.Params{Migrations: migrations, Load: load, Out: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), "APP_DATA__POOL__MAX_OPEN") {
		t.Fatalf("a bad data setting: %v, want an error naming it", err)
	}
}
