// Package httpx serves HTTP with echo: a server bound in the start hook
// and drained on stop, a default middleware stack, RFC 9457 problem
// details for every error, request validation, and /livez and /readyz
// health endpoints fed by [HealthCheck]s that other modules register.
package httpx

import (
	"fmt"

	"github.com/labstack/echo/v4"
)

func errNilMiddleware(name string) error {
	return fmt.Errorf("httpx: middleware %q has a nil Func", name)
}

// SubjectFunc returns the authenticated subject of a request, "" when
// there is none. The auth module provides one; modules that key work by
// subject (rate-limit policies, job ownership) take it from the container
// as an optional dependency, and an app can provide its own.
type SubjectFunc func(c echo.Context) string
