package data

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/observe"
)

// Module provides the "data" section, the [Registry], the primary
// *gorm.DB and *[Databases]: built from config, connected in a start hook
// (an unreachable database is a start error naming its setting; with
// data.migrate.on_start, migrations run there too), closed at stop. It
// registers a readiness check per database, pool and tenant metrics, the
// tenancy middleware when data.tenancy.enabled is set. The sentinel
// errors need no mapping: each converts itself to its problem (see
// [ErrNotFound]): ErrNotFound 404, ErrConflict and ErrForeignKey 409,
// ErrRetryable 503, ErrUnknownTenant 404, ErrInvalidTenant and ErrNoTenant
// 400, ErrClosed 503.
//
// Optional inputs through fx: a [TenantResolver] (else tenants come from
// config) and [Migrations].
var Module = fx.Module("data",
	app.ProvideSection("data", DefaultConfig),
	fx.Provide(
		newDatabases,
		func(d *Databases) Registry { return d },
		func(d *Databases) *gorm.DB { return d.Primary() },
		observe.AsCollector(func(d *Databases) prometheus.Collector { return d }),
		httpx.AsHealthChecks(func(d *Databases) []httpx.HealthCheck { return d.HealthChecks() }),
		httpx.AsMiddlewares(newMiddleware),
	),
)

// MiddlewareOrder places the tenancy middleware among app middleware
// (httpx.Middleware.Order): before authentication, which compares a
// token's tenant with the request's.
const MiddlewareOrder = -100

type databasesIn struct {
	fx.In
	Lifecycle  fx.Lifecycle
	Config     Config
	Log        *zap.Logger
	Tracer     trace.TracerProvider `optional:"true"`
	Resolver   TenantResolver       `optional:"true"`
	Migrations Migrations           `optional:"true"`
}

func newDatabases(in databasesIn) (*Databases, error) {
	p := Params{Log: in.Log, Resolver: in.Resolver}
	if observe.Recording(in.Tracer) {
		p.TracerProvider = in.Tracer
	}
	p.Migrations = in.Migrations.FS
	d, err := New(in.Config, p)
	if err != nil {
		return nil, err
	}
	in.Lifecycle.Append(fx.Hook{
		OnStart: d.Start,
		OnStop:  func(ctx context.Context) error { return d.Close() },
	})
	return d, nil
}

type middlewareIn struct {
	fx.In
	Databases *Databases
	Config    Config
	Observe   observe.Config
	HTTP      httpx.Config `optional:"true"`
}

func newMiddleware(in middlewareIn) []httpx.Middleware {
	if !in.Config.Tenancy.Enabled {
		return nil
	}
	skip := append([]string{in.Observe.Metrics.Path}, in.Config.Tenancy.SkipPaths...)
	if in.HTTP.Health.LivePath != "" {
		skip = append(skip, in.HTTP.Health.LivePath, in.HTTP.Health.ReadyPath)
	}
	return []httpx.Middleware{{
		Name:  "data.tenancy",
		Order: MiddlewareOrder,
		Func:  in.Databases.Middleware(MiddlewareConfig{Header: in.Config.Tenancy.Header, SkipPaths: skip}),
	}}
}
