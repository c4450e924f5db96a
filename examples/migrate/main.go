// Command migrate applies an app's embedded SQL migrations from the
// command line, with the same configuration as the service (config files,
// .env, APP_* variables):
//
//	go run ./examples/migrate status
//	go run ./examples/migrate up
//	go run ./examples/migrate down
//	go run ./examples/migrate create add_accounts_plan   # writes migrations/<timestamp>_add_accounts_plan.sql
//	APP_DATA__DSN=postgres://postgres@localhost/app go run ./examples/migrate up
//
// Without data.dsn it works on var/migrate.db, a file of its own (the
// repository example has var/repository.db). `down` with nothing applied
// says so and succeeds.
//
// With data.tenancy set up (tenants listed in config, or a DSN or schema
// template), `up -tenants acme,globex` migrates those tenants' databases
// one after another. Instances running `up` together apply each migration
// once: the migrator holds a lock (Postgres advisory lock, MySQL GET_LOCK).
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/data"
)

//go:embed migrations/*.sql
var embedded embed.FS

// Migrations is the app's migration set, rooted at the SQL files.
func Migrations() fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], app.LoadParams{}, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

// SQLitePath is this example's SQLite file when data.dsn is unset: its
// own, so that its version table never meets another example's.
const SQLitePath = "var/migrate.db"

const usage = `usage: migrate [-tenants a,b] up | down | status | create NAME`

// run is the whole command, for tests: load the "data" section as the
// service would, then act on the primary database (or the tenants).
func run(ctx context.Context, args []string, load app.LoadParams, out io.Writer) error {
	flags := flag.NewFlagSet("migrate", flag.ContinueOnError)
	flags.SetOutput(out)
	tenants := flags.String("tenants", "", "comma-separated tenant IDs to migrate instead of the primary (up only)")
	dir := flags.String("dir", "migrations", "where create writes the new file")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() == 0 {
		return errors.New(usage)
	}
	cmd := flags.Arg(0)
	if cmd == "create" {
		if flags.NArg() != 2 {
			return errors.New(usage)
		}
		path, err := data.CreateMigration(*dir, flags.Arg(1), time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintln(out, "created", path)
		return nil
	}

	loaded, err := app.Load(load)
	if err != nil {
		return err
	}
	cfg := data.DefaultConfig()
	cfg.SQLitePath = SQLitePath
	if ps := app.DecodeSection(loaded.Config, "data", &cfg); len(ps) > 0 {
		return &app.ConfigError{Problems: ps}
	}
	cfg.Migrate.OnStart = false // Start only connects: the commands below migrate
	dbs, err := data.New(cfg, data.Params{})
	if err != nil {
		return err
	}
	defer dbs.Close()
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := dbs.Start(startCtx); err != nil {
		return err
	}

	if *tenants != "" {
		if cmd != "up" {
			return errors.New("-tenants works with up only")
		}
		ids := strings.Split(*tenants, ",")
		if err := dbs.MigrateTenants(ctx, Migrations(), ids); err != nil {
			return err
		}
		fmt.Fprintf(out, "migrated %d tenants\n", len(ids))
		return nil
	}

	m, err := data.NewMigrator(dbs.Primary(), Migrations(), data.MigratorParams{Table: cfg.Migrate.Table})
	if err != nil {
		return err
	}
	defer m.Close()
	switch cmd {
	case "up":
		n, err := m.Up(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "applied %d migrations\n", n)
	case "down":
		err := m.Down(ctx)
		if errors.Is(err, data.ErrNothingToRollBack) {
			fmt.Fprintln(out, "no migration applied: nothing to roll back")
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(out, "rolled back one migration")
	case "status":
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			state := "pending"
			if s.Applied {
				state = "applied " + s.AppliedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(out, "%-40s %s\n", s.Name, state)
		}
	default:
		return errors.New(usage)
	}
	return nil
}
