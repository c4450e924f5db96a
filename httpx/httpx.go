// Package httpx serves HTTP with echo: a server bound in the start hook
// and drained on stop, a default middleware stack, RFC 9457 problem
// details for every error, request validation, and /livez and /readyz
// health endpoints fed by [HealthCheck]s that other modules register.
package httpx

import (
	"context"
	"fmt"
	"time"

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

// KeyLimiter rate-limits events by key where no HTTP middleware runs (a
// realtime client's publications, say): it reports whether one more event
// for key is allowed at rate events per period with the given burst. The
// cache module provides one on its Limiter, so that the budget is shared
// across instances on Redis; modules take it from the container as an
// optional dependency, so that they need no import of cache. It is safe
// for concurrent use, honours ctx, and returns an error only when the
// limiter itself fails.
type KeyLimiter func(ctx context.Context, key string, rate int, period time.Duration, burst int) (bool, error)
