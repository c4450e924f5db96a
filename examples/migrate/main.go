// Command migrate applies an app's embedded SQL migrations from the
// command line, with the same configuration as the service (config files,
// .env, APP_* variables); it is apex's data/migratecmd on this app's
// migrations:
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
	"io"
	"io/fs"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/data/migratecmd"
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
	migratecmd.Main(migratecmd.Params{Migrations: Migrations(), SQLitePath: SQLitePath})
}

// SQLitePath is this example's SQLite file when data.dsn is unset: its
// own, so that its version table never meets another example's.
const SQLitePath = "var/migrate.db"

// run is the whole command, for tests.
func run(ctx context.Context, args []string, load app.LoadParams, out io.Writer) error {
	return migratecmd.Run(ctx, args, migratecmd.Params{Migrations: Migrations(), SQLitePath: SQLitePath, Load: load, Out: out})
}
