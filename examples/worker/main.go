// Command worker is an apex app that only runs background jobs: the same
// modules as an API service, without the HTTP server (apex.Without(apex.HTTP)),
// with /metrics, /livez and /readyz on observe's admin listener, and
// commands for the dead letters. Concurrency per queue comes from config
// (config/default.yaml here, or APP_QUEUE__QUEUES__<NAME>__CONCURRENCY).
// From the repository's root:
//
//	export APP_CONFIG_DIR=examples/worker/config APP_REDIS__ADDR=127.0.0.1:6379
//	go run ./examples/worker                       # run the workers
//	go run ./examples/worker enqueue email.send '{"to":"a@example.com"}'
//	go run ./examples/worker status default.<id>
//	go run ./examples/worker dead list default
//	go run ./examples/worker dead replay default [id...]
//	go run ./examples/worker dead purge default [id...]
//
// Without APP_REDIS__ADDR the queue is in-process: jobs run, but the
// commands cannot see another process's jobs.
package main

import (
	"fmt"
	"io"
	"os"

	"go.uber.org/fx"

	"github.com/apexgo/apex"
)

func main() {
	if len(os.Args) > 1 {
		if err := command(os.Args[1:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		return
	}
	apex.Run(options()...)
}

// options is the worker process: apex without HTTP, and this example's
// job kinds. Its /metrics, /livez and /readyz are on observe's admin
// listener (observe.admin.addr, 127.0.0.1:9090 in config/default.yaml).
func options() []fx.Option {
	return []fx.Option{apex.Without(apex.HTTP), jobsModule}
}

// usage is printed for an unknown command.
func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: worker                                 run the workers
       worker enqueue <kind> <json payload>     enqueue one job, print its ID
       worker status <id>                       print a job's status
       worker dead list <queue> [limit]         list dead letters, newest first
       worker dead replay <queue> [id...]       replay some or all
       worker dead purge <queue> [id...]        delete some or all`)
}
