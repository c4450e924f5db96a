// Command minimal is a small JSON API built only from apex.Modules and a
// few routes. It runs with nothing installed:
//
//	go run ./examples/minimal
//	curl -s localhost:8080/items -d '{"name":"lamp","price_cents":1999}' -H 'Content-Type: application/json'
//	curl -s localhost:8080/items/1
//	curl -s localhost:8080/items/42        # a 404 problem
//	APP_MINIMAL__PANIC_ROUTE=true go run ./examples/minimal   # adds GET /panic
package main

import (
	"go.uber.org/fx"

	"github.com/apexgo/apex"
)

func main() {
	apex.Run(options()...)
}

// options is the whole app: apex's modules and this example's routes.
func options() []fx.Option {
	return append(apex.Modules, itemsModule)
}
