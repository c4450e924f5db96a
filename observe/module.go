package observe

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/observe/logonly"
	"github.com/apexgo/apex/observe/webhook"
)

// Module provides the "observe" section, *zap.Logger, the [Alerter],
// the zapcore.Core the logger writes to (before alerting; fx.Decorate it to
// add a sink, as app/apptest does to capture logs),
// *prometheus.Registry (also as prometheus.Registerer and Gatherer), an
// OpenTelemetry metric.MeterProvider exported through that registry,
// *[Tracing] with its trace.TracerProvider and
// propagation.TextMapPropagator, and *[AdminServer], the admin listener
// it runs when observe.admin.addr is set (nil otherwise). Replace the Alerter with fx.Decorate. When the
// container holds an sdktrace.SpanProcessor, the provider feeds it too,
// and tracing is on even without observe.tracing.endpoint (tests capture
// spans with a simple processor around an in-memory exporter; wrap a
// production exporter in sdktrace.NewBatchSpanProcessor).
var Module = fx.Module("observe",
	app.ProvideSection("observe", DefaultConfig),
	fx.Provide(
		NewRegistry,
		func(r *prometheus.Registry) prometheus.Registerer { return r },
		func(r *prometheus.Registry) prometheus.Gatherer { return r },
		newMeterProvider,
	),
	fx.Provide(newCore),
	fx.Provide(fx.Private, newBaseLogger),
	fx.Provide(newEventLogger),
	fx.Provide(newAlerter, newDispatcher, newLogger, newTracing),
	fx.Provide(newAdmin),
	fx.Invoke(registerCollectors, func(*AdminServer) {}),
)

type baseLogger struct{ *zap.Logger }

func newCore(cfg Config, info app.Info) (zapcore.Core, error) {
	// A log file stays open for the life of the process: fx writes its
	// "stopped" line after the last stop hook has run.
	return NewCore(cfg.Log, info)
}

// newBaseLogger writes to the core as decorated; it raises no alerts.
func newBaseLogger(core zapcore.Core) baseLogger { return baseLogger{newZap(core)} }

func newAlerter(cfg Config, base baseLogger) (Alerter, error) {
	c := cfg.Alerts
	if c.Driver == "webhook" || (c.Driver == "auto" && c.WebhookURL.IsSet()) {
		w, err := webhook.New(webhook.Config{URL: c.WebhookURL, Timeout: c.Timeout})
		if err != nil {
			return nil, fmt.Errorf("observe.alerts.webhook_url: %w", err)
		}
		return w, nil
	}
	return logonly.New(base.Named("alert")), nil
}

func newDispatcher(lc fx.Lifecycle, cfg Config, info app.Info, a Alerter, base baseLogger, reg prometheus.Registerer) (*Dispatcher, error) {
	d, err := NewDispatcher(cfg.Alerts, info, a, base.Named("alert"), reg)
	if err != nil {
		return nil, err
	}
	// Started by a hook, not here: if the app fails to build, no stop hook
	// runs, and a goroutine started here would leak. Alerts logged before
	// the start wait in the bounded queue.
	lc.Append(fx.Hook{OnStart: func(context.Context) error { d.Start(); return nil }, OnStop: d.Stop})
	return d, nil
}

func newLogger(lc fx.Lifecycle, base baseLogger, d *Dispatcher, events *eventLogger, report app.ConfigReport) *zap.Logger {
	log := base.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, d.Core()) }))
	events.attach(log)
	if len(report.UnknownSections) > 0 {
		log.Warn("config has top-level keys that no module reads (a misspelled section, or APP_X_Y with one underscore where APP_X__Y was meant)",
			zap.Strings("keys", report.UnknownSections))
	}
	// observe.Logger(ctx) falls back to zap.L() for contexts that carry
	// no logger (background work): make that this app's logger while it runs.
	var restore func()
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error { restore = zap.ReplaceGlobals(log); return nil },
		OnStop:  func(context.Context) error { restore(); return nil },
	})
	lc.Append(fx.StopHook(func() error {
		// Syncing a terminal or pipe fails with EINVAL/ENOTTY; nothing is lost.
		if err := log.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTTY) && !errors.Is(err, syscall.EBADF) {
			return fmt.Errorf("observe: sync log: %w", err)
		}
		return nil
	}))
	return log
}

type tracingIn struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    Config
	Info      app.Info
	Log       baseLogger
	Processor sdktrace.SpanProcessor `optional:"true"`
}

type tracingOut struct {
	fx.Out
	Tracing    *Tracing
	Provider   trace.TracerProvider
	Propagator propagation.TextMapPropagator
}

func newTracing(in tracingIn) (tracingOut, error) {
	var extra []sdktrace.SpanProcessor
	if in.Processor != nil {
		extra = append(extra, in.Processor)
	}
	t, err := NewTracing(in.Config.Tracing, in.Info, extra...)
	if err != nil {
		return tracingOut{}, err
	}
	in.Lifecycle.Append(fx.StopHook(func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, in.Config.Tracing.Timeout)
		defer cancel()
		// A collector that is down must not fail or hold up the stop.
		if err := t.Shutdown(ctx); err != nil {
			in.Log.Warn("spans not flushed at stop", zap.Error(err))
		}
		return nil
	}))
	return tracingOut{Tracing: t, Provider: t.Provider, Propagator: t.Propagator}, nil
}

type collectorsIn struct {
	fx.In
	Registry   prometheus.Registerer
	Collectors []prometheus.Collector `group:"observe.collectors"`
}

func registerCollectors(in collectorsIn) error {
	for _, c := range in.Collectors {
		if err := in.Registry.Register(c); err != nil {
			return fmt.Errorf("observe: register collector %T: %w", c, err)
		}
	}
	return nil
}

// newAdmin is the admin listener, nil without observe.admin.addr.
func newAdmin(lc fx.Lifecycle, cfg Config, g prometheus.Gatherer, log *zap.Logger) *AdminServer {
	if cfg.Admin.Addr == "" {
		return nil
	}
	a := NewAdminServer(cfg, g, log.Named("admin"))
	lc.Append(fx.Hook{OnStart: a.Start, OnStop: a.Stop})
	return a
}
