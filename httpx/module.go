package httpx

import (
	"cmp"
	"slices"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/observe"
)

// Module provides the "http" section, *[Server], its *echo.Echo and
// *[Health], registers the routes, groups and middleware given with
// [AsRoute], [AsGroup] and [AsMiddleware], and serves on http.addr from
// start to stop. /metrics is served here unless observe.admin.addr moves
// it; the health endpoints are also served on that admin listener.
var Module = fx.Module("httpx",
	app.ProvideSection("http", DefaultConfig),
	fx.Provide(newServer, func(s *Server) *echo.Echo { return s.Echo }, func(s *Server) *Health { return s.Health }),
	fx.Invoke(register),
)

type serverIn struct {
	fx.In
	Lifecycle      fx.Lifecycle
	Config         Config
	Observe        observe.Config
	Info           app.Info
	Log            *zap.Logger
	Registerer     prometheus.Registerer         `optional:"true"`
	Gatherer       prometheus.Gatherer           `optional:"true"`
	TracerProvider trace.TracerProvider          `optional:"true"`
	Propagator     propagation.TextMapPropagator `optional:"true"`
	Checks         []HealthCheck                 `group:"httpx.health_checks"`
	ErrorMappings  []ErrorMapping                `group:"httpx.error_mappings"`
	ContextValues  []ContextValue                `group:"httpx.context_values"`
	State          *app.State                    `optional:"true"`
}

func newServer(in serverIn) (*Server, error) {
	p := Params{
		Config: in.Config, Info: in.Info, Log: in.Log,
		Registerer: in.Registerer, Gatherer: in.Gatherer,
		TracerProvider: in.TracerProvider, Propagator: in.Propagator,
		Checks: in.Checks, ErrorMapping: in.ErrorMappings, ContextValues: in.ContextValues,
	}
	if in.Observe.Admin.Addr == "" {
		p.MetricsPath = in.Observe.Metrics.Path
	}
	s, err := New(p)
	if err != nil {
		return nil, err
	}
	hook := fx.Hook{OnStart: s.Start, OnStop: s.Stop}
	if in.State != nil {
		// Drain before any other stop hook runs: handlers still in flight
		// need the pools and clients that later hooks close.
		s.Health.WaitForStart(in.State.Started)
		in.State.DrainFirst(s.Stop)
		hook.OnStop = in.State.Drain
	}
	in.Lifecycle.Append(hook)
	return s, nil
}

type registerIn struct {
	fx.In
	Server     *Server
	Admin      *observe.AdminServer `optional:"true"`
	Routes     []Route              `group:"httpx.routes"`
	Groups     []Group              `group:"httpx.groups"`
	Middleware []Middleware         `group:"httpx.middleware"`
}

func register(in registerIn) error {
	// fx hands group values over in no fixed order: sort them.
	slices.SortStableFunc(in.Middleware, func(a, b Middleware) int {
		return cmp.Or(cmp.Compare(a.Order, b.Order), cmp.Compare(a.Name, b.Name))
	})
	for _, m := range in.Middleware {
		if m.Func == nil {
			return errNilMiddleware(m.Name)
		}
		in.Server.Echo.Use(m.Func)
	}
	if in.Admin != nil {
		hc := in.Server.cfg.Health
		if err := in.Server.Health.serveOn(in.Admin, hc.LivePath, hc.ReadyPath); err != nil {
			return err
		}
	}
	return Register(in.Server.Echo, in.Groups, in.Routes)
}
