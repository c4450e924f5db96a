package data

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/httpx"
)

// MiddlewareConfig configures [Databases.Middleware].
type MiddlewareConfig struct {
	// Header carries the tenant ID. Default X-Tenant-ID
	// ([DefaultTenantHeader]).
	Header string
	// SkipPaths are served without a tenant: exact request paths, or
	// prefixes when they end in "/". Default: none.
	SkipPaths []string
}

// Middleware returns echo middleware that puts the request's tenant in
// its context (app.WithTenant) and keeps the tenant's pool open until the
// response is written. The ID comes from the header; a missing or
// malformed one (see [TenantIDPattern]) is a 400 problem and reaches no
// resolver, an unknown tenant a 404 problem, a resolver or database
// failure a 503 problem with Retry-After (and one ERROR line a minute
// while it lasts, not one per request). Requests to SkipPaths pass
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
	unavailable := httpx.NewUnavailable(httpx.UnavailableParams{Log: d.p.Log.Named("data.tenancy"),
		Message: "data: cannot open tenants' databases; answering 503", Detail: "the tenant's database is unavailable; retry later"})
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
				p := httpx.NewProblem(http.StatusBadRequest, "the "+cfg.Header+" header is required")
				p.Code, p.Err = CodeTenantRequired, ErrNoTenant
				return p
			}
			if !d.tenants.validID(id) {
				p := httpx.NewProblem(http.StatusBadRequest, "the "+cfg.Header+" header is not a valid tenant ID")
				p.Code, p.Err = CodeTenantInvalid, ErrInvalidTenant
				return p
			}
			ctx := app.WithTenant(req.Context(), id)
			release, err := d.Pin(ctx)
			if err != nil {
				return tenantProblem(ctx, unavailable, id, err)
			}
			defer release()
			c.SetRequest(req.WithContext(ctx))
			return next(c)
		}
	}
}

// tenantProblem is the answer to a failed Pin: the sentinels' own
// problems (400, 404), or a 503 from unavailable for a resolver or
// database failure.
func tenantProblem(ctx context.Context, unavailable *httpx.Unavailable, id string, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, ErrInvalidTenant), errors.Is(err, ErrUnknownTenant), errors.Is(err, ErrNoTenant):
		return err
	}
	return unavailable.Problem(ctx, err, zap.String("tenant", id))
}
