// Command worker runs the tracker's background jobs: the same core as
// cmd/api without the HTTP server (apex.Without(apex.HTTP)), with
// /metrics, /livez and /readyz on observe's admin listener when
// observe.admin.addr is set (APP_OBSERVE__ADMIN__ADDR=127.0.0.1:9090).
// It needs the queue on Redis to share work with the API instances:
//
//	APP_DATA__DSN=postgres://... APP_REDIS__ADDR=127.0.0.1:6379 go run ./examples/service/cmd/worker
package main

import (
	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/examples/service/core"
)

func main() {
	apex.Run(Options()...)
}

// Options is the worker process.
func Options() []fx.Option {
	return []fx.Option{apex.Without(apex.HTTP), core.Module}
}
