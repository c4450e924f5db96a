package redisconn

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/observe"
)

// Module provides the "redis" section and, when Redis is configured, the
// process's rueidis.Client: connected and pinged at construction (an
// unreachable server is a start error naming redis.addr or redis.addrs),
// closed at stop, with a "redis" readiness check. Without configuration
// it provides a nil rueidis.Client; consumers take it with
// `optional:"true"` and test for nil. The client fails fast while Redis
// is down (see [New]): the readiness check then fails with the reason,
// and the apex_redis_up gauge is 0.
var Module = fx.Module("redis",
	app.ProvideSection("redis", DefaultConfig),
	fx.Provide(newClient, httpx.AsHealthChecks(newChecks)),
)

type clientIn struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    Config
	Info      app.Info
	Tracer    trace.TracerProvider  `optional:"true"`
	Meter     metric.MeterProvider  `optional:"true"`
	Registry  prometheus.Registerer `optional:"true"`
	Log       *zap.Logger           `optional:"true"`
}

func newClient(in clientIn) (rueidis.Client, error) {
	if !in.Config.Enabled() {
		return nil, nil
	}
	p := Params{ClientName: in.Info.Name, Registerer: in.Registry, Log: in.Log}
	if observe.Recording(in.Tracer) {
		p.TracerProvider, p.MeterProvider = in.Tracer, in.Meter
	}
	c, err := New(context.Background(), in.Config, p)
	if err != nil {
		return nil, err
	}
	in.Lifecycle.Append(fx.StopHook(c.Close))
	return c, nil
}

// newChecks returns the readiness check, none without Redis.
func newChecks(c rueidis.Client) []httpx.HealthCheck {
	if c == nil {
		return nil
	}
	return []httpx.HealthCheck{Check{Client: c}}
}
