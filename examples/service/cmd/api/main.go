// Command api is the tracker's HTTP API: every apex module, the shared
// core and the HTTP handlers. With nothing configured it is the whole
// service in one process — SQLite at var/tracker.db (migrated at start),
// in-memory cache, queue (its workers run here) and realtime hub, mail
// kept in memory and logged:
//
//	go run ./examples/service/cmd/api
//
// In a cluster (see examples/service/README.md) it runs on Postgres and
// Redis, with queue.worker off and cmd/worker running the jobs.
package main

import (
	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/examples/service/core"
	"github.com/apexgo/apex/examples/service/httpapi"
)

func main() {
	apex.Run(Options()...)
}

// Options is the API process.
func Options() []fx.Option {
	return append(apex.Modules, core.Module, httpapi.Module)
}
