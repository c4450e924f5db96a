// Command migrate applies the tracker's migrations with the service's
// configuration (config files, .env, APP_* variables), once, before the
// API and worker processes of a new version start:
//
//	go run ./examples/service/cmd/migrate up       # apply what is pending
//	go run ./examples/service/cmd/migrate status   # list applied and pending
//	go run ./examples/service/cmd/migrate down     # roll the last one back
//
// Without data.dsn it works on the API's SQLite file, var/tracker.db.
// Several running `up` at once apply each migration once (the migrator
// holds a database lock).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/examples/service/core"
	"github.com/apexgo/apex/examples/service/migrations"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], app.LoadParams{}, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

const usage = "usage: migrate up | down | status"

func run(ctx context.Context, args []string, load app.LoadParams, out io.Writer) error {
	if len(args) != 1 {
		return errors.New(usage)
	}
	loaded, err := app.Load(load)
	if err != nil {
		return err
	}
	cfg := data.DefaultConfig()
	cfg.SQLitePath = core.DefaultSQLitePath
	if ps := app.DecodeSection(loaded.Config, "data", &cfg); len(ps) > 0 {
		return &app.ConfigError{Problems: ps}
	}
	cfg.Migrate.OnStart = false
	dbs, err := data.New(cfg, data.Params{})
	if err != nil {
		return err
	}
	defer dbs.Close()
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := dbs.Start(startCtx); err != nil {
		return err
	}
	m, err := data.NewMigrator(dbs.Primary(), migrations.FS(), data.MigratorParams{Table: migrations.Table})
	if err != nil {
		return err
	}
	defer m.Close()
	switch args[0] {
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
