package openapi

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/observe"
)

// Module serves the OpenAPI document of the app's routes and the docs UI
// on the httpx server, as http.openapi configures (on by default). It is
// part of apex.Modules, before httpx.Module; with the modules listed one
// by one, put it before httpx.Module too: the document is then generated
// in a start hook that runs before the server listens, so that a Doc that
// cannot be reflected or a duplicate OperationID stops the start before
// any request is served. Placed after, the document is generated just
// after the server starts listening, and its paths answer 503 until then.
//
// The document lists every route of the echo server as it is when the app
// starts, including those added by fx.Invoke functions that call echo
// directly; with http.openapi.enabled false nothing is generated and the
// paths answer 404.
var Module = fx.Module("openapi",
	fx.Provide(fx.Private, func() *state { return &state{} }),
	fx.Invoke(appendHook),
	fx.Invoke(register),
)

// state carries what register learns to the start hook.
type state struct {
	params  *Params
	handler *Handler
}

type hookIn struct {
	fx.In
	Lifecycle fx.Lifecycle
	State     *state
	Log       *zap.Logger
}

// appendHook needs nothing that builds the server, so that its hook comes
// before the server's.
func appendHook(in hookIn) {
	in.Lifecycle.Append(fx.Hook{OnStart: func(context.Context) error {
		if in.State.params == nil {
			return nil
		}
		d, err := New(*in.State.params)
		if err != nil {
			return err
		}
		in.State.handler.Set(d)
		in.Log.Debug("openapi: document generated", zap.Int("operations", d.Operations()), zap.Int("bytes", len(d.JSON())))
		return nil
	}})
}

type registerIn struct {
	fx.In
	// Echo comes first: the server is then built, and its start hook
	// appended, before the route constructors run, as in httpx.Module.
	Echo    *echo.Echo
	State   *state
	Config  httpx.Config
	Observe observe.Config
	Info    app.Info
	Routes  []httpx.Route `group:"httpx.routes"`
	Groups  []httpx.Group `group:"httpx.groups"`
}

func register(in registerIn) {
	cfg := in.Config.OpenAPI
	if !cfg.Enabled {
		return
	}
	p := &Params{
		Config: cfg, Info: in.Info, Echo: in.Echo, Groups: in.Groups, Routes: in.Routes,
		Docs: InternalDocs(in.Config.Health, metricsPath(in.Observe)),
	}
	in.State.params = p
	in.State.handler = NewHandler(cfg, cmpTitle(cfg, in.Info))
	in.State.handler.Register(in.Echo)
}

func cmpTitle(cfg httpx.OpenAPIConfig, info app.Info) string {
	if cfg.Title != "" {
		return cfg.Title
	}
	if info.Name != "" {
		return info.Name
	}
	return "API"
}

// metricsPath is where httpx serves /metrics: on the app's listener only
// when observe.admin.addr does not move it.
func metricsPath(c observe.Config) string {
	if c.Admin.Addr != "" {
		return ""
	}
	return c.Metrics.Path
}

// liveBody is the /livez body.
type liveBody struct {
	// Status is always "ok".
	Status string `json:"status" enum:"ok"`
}

// InternalDocs describes apex's own routes, for [Params.Docs]: the health
// endpoints of hc and, when metrics is not "", the Prometheus metrics.
func InternalDocs(hc httpx.HealthConfig, metrics string) map[string]httpx.Doc {
	docs := map[string]httpx.Doc{
		http.MethodGet + " " + hc.LivePath: {
			Summary: "Liveness", Tags: []string{InternalTag}, OperationID: "apexLive",
			Description: "200 while the process runs.",
			Responses:   map[int]any{http.StatusOK: liveBody{}},
		},
		http.MethodGet + " " + hc.ReadyPath: {
			Summary: "Readiness", Tags: []string{InternalTag}, OperationID: "apexReady",
			Description: "200 when every readiness check passes; 503 while one fails, the app starts or it drains.",
			Responses:   map[int]any{http.StatusOK: httpx.Report{}, http.StatusServiceUnavailable: httpx.Report{}},
		},
	}
	if metrics != "" {
		docs[http.MethodGet+" "+metrics] = httpx.Doc{
			Summary: "Prometheus metrics", Tags: []string{InternalTag}, OperationID: "apexMetrics",
			Description: "The Prometheus text exposition format.",
			Responses:   map[int]any{http.StatusOK: ""},
		}
	}
	return docs
}
