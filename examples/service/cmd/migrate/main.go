// Command migrate applies the tracker's migrations with the service's
// configuration (config files, .env, APP_* variables), once, before the
// API and worker processes of a new version start (apex's data/migratecmd):
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
	"github.com/apexgo/apex/data/migratecmd"
	"github.com/apexgo/apex/examples/service/core"
	"github.com/apexgo/apex/examples/service/migrations"
)

func main() {
	migratecmd.Main(migratecmd.Params{Migrations: migrations.FS(), Table: migrations.Table, SQLitePath: core.DefaultSQLitePath})
}
