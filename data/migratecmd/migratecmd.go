// Package migratecmd is the migrate command of an apex service: it reads
// the service's configuration as the service does (config files, .env,
// APP_* variables; the "data" section) and applies, rolls back, lists or
// creates the service's SQL migrations, so that a new version's schema is
// in place before its processes start. A service's cmd/migrate is
//
//	func main() {
//		migratecmd.Main(migratecmd.Params{Migrations: migrations.FS()})
//	}
//
// and is run as
//
//	migrate up                    # apply what is pending
//	migrate status                # list applied and pending
//	migrate down                  # roll the last one back
//	migrate create add_plan       # write migrations/<timestamp>_add_plan.sql
//	migrate -tenants acme,globex up
//
// Several instances running up at once apply each migration once (the
// migrator holds a database lock). down with nothing applied says so and
// succeeds.
package migratecmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/data"
)

// Usage is the command line the command accepts.
const Usage = "usage: migrate [-tenants a,b] [-dir migrations] up | down | status | create NAME"

// ErrUsage wraps every error about the command line itself.
var ErrUsage = errors.New(Usage)

// StartTimeout bounds connecting to the database.
const StartTimeout = time.Minute

// Params configures the command.
type Params struct {
	// Migrations are the service's goose SQL migrations. Required, except
	// for create.
	Migrations fs.FS
	// Table records the applied versions. Default: data.migrate.table of
	// the configuration (goose_db_version).
	Table string
	// SQLitePath is the SQLite file used when data.dsn is unset: the
	// service's own. Default data's (data.DefaultSQLitePath).
	SQLitePath string
	// Load reads the configuration. Default: the process's, as app.Load.
	Load app.LoadParams
	// Out receives the command's output. Default os.Stdout.
	Out io.Writer
	// Now dates the files of create. Default time.Now.
	Now func() time.Time
}

// Main runs the command of os.Args[1:] until it ends or SIGINT/SIGTERM
// cancels it, and exits: 0 when it succeeded, 2 for a wrong command line,
// 1 for any other error, printed on stderr.
func Main(p Params) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], p)
	stop()
	if err == nil {
		os.Exit(0)
	}
	fmt.Fprintln(os.Stderr, "migrate:", err)
	if errors.Is(err, ErrUsage) || errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	os.Exit(1)
}

// Run runs the command of args (without the program's name).
func Run(ctx context.Context, args []string, p Params) error {
	if p.Out == nil {
		p.Out = os.Stdout
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	flags := flag.NewFlagSet("migrate", flag.ContinueOnError)
	flags.SetOutput(p.Out)
	tenants := flags.String("tenants", "", "comma-separated tenant IDs to migrate instead of the primary (up only)")
	dir := flags.String("dir", "migrations", "where create writes the new file")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() == 0 {
		return ErrUsage
	}
	cmd := flags.Arg(0)
	switch {
	case cmd == "create":
		if flags.NArg() != 2 {
			return fmt.Errorf("create needs one NAME: %w", ErrUsage)
		}
		path, err := data.CreateMigration(*dir, flags.Arg(1), p.Now())
		if err != nil {
			return err
		}
		fmt.Fprintln(p.Out, "created", path)
		return nil
	case cmd != "up" && cmd != "down" && cmd != "status":
		return fmt.Errorf("unknown command %q: %w", cmd, ErrUsage)
	case flags.NArg() != 1:
		return fmt.Errorf("%s takes no argument: %w", cmd, ErrUsage)
	case *tenants != "" && cmd != "up":
		return fmt.Errorf("-tenants works with up only: %w", ErrUsage)
	case p.Migrations == nil:
		return errors.New("migratecmd: Params.Migrations is required")
	}

	dbs, table, err := open(ctx, p)
	if err != nil {
		return err
	}
	defer dbs.Close()
	if *tenants != "" {
		ids := strings.Split(*tenants, ",")
		if err := dbs.MigrateTenants(ctx, p.Migrations, ids); err != nil {
			return err
		}
		fmt.Fprintf(p.Out, "migrated %d tenants\n", len(ids))
		return nil
	}
	m, err := data.NewMigrator(dbs.Primary(), p.Migrations, data.MigratorParams{Table: table})
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
		fmt.Fprintf(p.Out, "applied %d migrations\n", n)
	case "down":
		err := m.Down(ctx)
		if errors.Is(err, data.ErrNothingToRollBack) {
			fmt.Fprintln(p.Out, "no migration applied: nothing to roll back")
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(p.Out, "rolled back one migration")
	default: // status
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			state := "pending"
			if s.Applied {
				state = "applied " + s.AppliedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(p.Out, "%-40s %s\n", s.Name, state)
		}
	}
	return nil
}

// open loads the "data" section as the service would and connects,
// without migrating on start: the command does.
func open(ctx context.Context, p Params) (*data.Databases, string, error) {
	loaded, err := app.Load(p.Load)
	if err != nil {
		return nil, "", err
	}
	cfg := data.DefaultConfig()
	if p.SQLitePath != "" {
		cfg.SQLitePath = p.SQLitePath
	}
	if ps := app.DecodeSection(loaded.Config, "data", &cfg); len(ps) > 0 {
		return nil, "", &app.ConfigError{Problems: ps}
	}
	cfg.Migrate.OnStart = false
	table := cfg.Migrate.Table
	if p.Table != "" {
		table = p.Table
	}
	dbs, err := data.New(cfg, data.Params{})
	if err != nil {
		return nil, "", err
	}
	startCtx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	if err := dbs.Start(startCtx); err != nil {
		return nil, "", errors.Join(err, dbs.Close())
	}
	return dbs, table, nil
}
