package data

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/httpx"
)

// MiddlewareConfig configures [Databases.Middleware].
type MiddlewareConfig struct {
	// Header carries the tenant ID. Default X-Tenant-ID
	// ([DefaultTenantHeader]).
	Header string
	// SkipPaths are served without a tenant: exact request paths, or
	// prefixes when they end in "/".
	SkipPaths []string
}

// Middleware returns echo middleware that puts the request's tenant in
// its context (app.WithTenant) and keeps the tenant's pool open until the
// response is written. The ID comes from the header; a missing or
// malformed one (see [TenantIDPattern]) is a 400 problem and reaches no
// resolver, an unknown tenant a 404 problem, a resolver or database
// failure a 503 problem with Retry-After. Requests to SkipPaths pass
// untouched. With tenancy off it passes every request.
func (d *Databases) Middleware(cfg MiddlewareConfig) echo.MiddlewareFunc {
	if cfg.Header == "" {
		cfg.Header = DefaultTenantHeader
	}
	exact := map[string]bool{}
	var prefixes []string
	for _, p := range cfg.SkipPaths {
		if strings.HasSuffix(p, "/") {
			prefixes = append(prefixes, p)
		} else {
			exact[p] = true
		}
	}
	skip := func(path string) bool {
		if exact[path] {
			return true
		}
		for _, p := range prefixes {
			if strings.HasPrefix(path, p) {
				return true
			}
		}
		return false
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if d.tenants == nil {
			return next
		}
		return func(c echo.Context) error {
			req := c.Request()
			if skip(req.URL.Path) {
				return next(c)
			}
			id := req.Header.Get(cfg.Header)
			if id == "" {
				return httpx.NewProblem(http.StatusBadRequest, "the "+cfg.Header+" header is required")
			}
			if !d.tenants.validID(id) {
				return httpx.NewProblem(http.StatusBadRequest, "the "+cfg.Header+" header is not a valid tenant ID")
			}
			ctx := app.WithTenant(req.Context(), id)
			release, err := d.Pin(ctx)
			if err != nil {
				return tenantProblem(ctx, err)
			}
			defer release()
			c.SetRequest(req.WithContext(ctx))
			return next(c)
		}
	}
}

func tenantProblem(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, ErrInvalidTenant):
		p := httpx.NewProblem(http.StatusBadRequest, "not a valid tenant ID")
		p.Err = err
		return p
	case errors.Is(err, ErrUnknownTenant):
		p := httpx.NewProblem(http.StatusNotFound, "unknown tenant")
		p.Err = err
		return p
	}
	p := httpx.NewProblem(http.StatusServiceUnavailable, "the tenant's database is unavailable")
	p.Header = http.Header{"Retry-After": {"1"}}
	p.Err = err
	return p
}
