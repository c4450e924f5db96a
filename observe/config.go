package observe

import (
	"time"

	"github.com/apexgo/apex/app"
)

// Config is the "observe" section.
type Config struct {
	// Log is observe.log: level, format and output of the app's logs.
	Log LogConfig `koanf:"log"`
	// Tracing is observe.tracing: OTLP/HTTP export and sampling; off
	// (a no-op provider) without an endpoint.
	Tracing TracingConfig `koanf:"tracing"`
	// Metrics is observe.metrics: where the Prometheus registry is served.
	Metrics MetricsConfig `koanf:"metrics"`
	// Admin is observe.admin: an optional separate listener for metrics,
	// the health endpoints and pprof; off by default.
	Admin AdminConfig `koanf:"admin"`
	// Alerts is observe.alerts: where ERROR-level entries are delivered.
	Alerts AlertsConfig `koanf:"alerts"`
}

// LogConfig is observe.log.
type LogConfig struct {
	// Level is debug, info, warn or error. Default info.
	Level string `koanf:"level" validate:"oneof=debug info warn error"`
	// Format is auto, json or console. auto (the default) is JSON in
	// production-like environments and console in development and test.
	Format string `koanf:"format" validate:"oneof=auto json console"`
	// Output is stderr (the default), stdout, or a file path (appended to).
	Output string `koanf:"output" validate:"required"`
	// BufferSize batches JSON log output in a buffer of this many bytes,
	// written when full, FlushInterval after its first line, at stop, and
	// at once for every entry at ERROR or above. 0 writes every line as
	// it comes. Console output (development) is never buffered.
	// Default 262144 (256 KiB).
	BufferSize int `koanf:"buffer_size" validate:"gte=0"`
	// FlushInterval is the longest a buffered line waits. Default 1s.
	FlushInterval time.Duration `koanf:"flush_interval" validate:"gt=0"`
}

// TracingConfig is observe.tracing.
type TracingConfig struct {
	// Endpoint is the OTLP/HTTP collector base URL, such as
	// http://localhost:4318. Empty (the default) disables export: the
	// tracer provider is a no-op unless span processors are added through fx.
	Endpoint string `koanf:"endpoint" validate:"omitempty,http_url"`
	// Headers are sent with every export (an API key, for instance).
	Headers map[string]app.Secret `koanf:"headers"`
	// SampleRatio is the share of new traces recorded, 0 to 1. Default 1.
	// A sampled parent is always followed.
	SampleRatio float64 `koanf:"sample_ratio" validate:"gte=0,lte=1"`
	// ServiceName labels spans. Default: service.name.
	ServiceName string `koanf:"service_name"`
	// Timeout bounds one export and the final flush at stop. Default 5s.
	Timeout time.Duration `koanf:"timeout" validate:"gt=0"`
}

// MetricsConfig is observe.metrics.
type MetricsConfig struct {
	// Path serves the Prometheus registry, on the main HTTP server unless
	// observe.admin.addr is set. Default /metrics.
	Path string `koanf:"path" validate:"required,startswith=/"`
}

// AdminConfig is observe.admin.
type AdminConfig struct {
	// Addr, when set, is a separate listener for metrics, the health
	// endpoints (with httpx.AdminHealth) and pprof; the main server then
	// serves neither metrics nor pprof. Default "" (metrics on the main
	// server).
	Addr string `koanf:"addr" validate:"omitempty,listen_addr"`
	// PProf serves /debug/pprof/ on the admin listener. Never on the main
	// server. Default false.
	PProf bool `koanf:"pprof"`
}

// AlertsConfig is observe.alerts.
type AlertsConfig struct {
	// Driver is auto, webhook or log. auto (the default) picks webhook
	// when WebhookURL is set, log otherwise.
	Driver string `koanf:"driver" validate:"oneof=auto webhook log"`
	// WebhookURL receives alerts as JSON POSTs.
	WebhookURL app.Secret `koanf:"webhook_url"`
	// QueueSize bounds alerts waiting for delivery; when full, new alerts
	// are dropped and counted in apex_alerts_dropped_total. Default 256.
	QueueSize int `koanf:"queue_size" validate:"min=1,max=100000"`
	// Window folds identical alerts (same level, message and error): the
	// first is sent at once, the rest within the window as one alert with
	// a count. Default 1m.
	Window time.Duration `koanf:"window" validate:"gte=0"`
	// Timeout bounds one delivery. Default 5s.
	Timeout time.Duration `koanf:"timeout" validate:"gt=0"`
}

// DefaultConfig returns the built-in defaults.
func DefaultConfig() Config {
	return Config{
		Log:     LogConfig{Level: "info", Format: "auto", Output: "stderr", BufferSize: 256 << 10, FlushInterval: time.Second},
		Tracing: TracingConfig{SampleRatio: 1, Timeout: 5 * time.Second},
		Metrics: MetricsConfig{Path: "/metrics"},
		Alerts:  AlertsConfig{Driver: "auto", QueueSize: 256, Window: time.Minute, Timeout: 5 * time.Second},
	}
}

// Validate implements app.Validator.
func (c Config) Validate() []app.Problem {
	if c.Alerts.Driver == "webhook" && !c.Alerts.WebhookURL.IsSet() {
		return []app.Problem{{Key: "alerts.webhook_url", Message: "is required when alerts.driver is webhook"}}
	}
	return nil
}
