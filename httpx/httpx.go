// Package httpx serves HTTP with echo: a server bound in the start hook
// and drained on stop, a default middleware stack, RFC 9457 problem
// details for every error, request validation, and /livez and /readyz
// health endpoints fed by [HealthCheck]s that other modules register.
package httpx

import "fmt"

func errNilMiddleware(name string) error {
	return fmt.Errorf("httpx: middleware %q has a nil Func", name)
}
