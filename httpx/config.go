package httpx

import (
	"errors"
	"time"

	"github.com/labstack/gommon/bytes"

	"github.com/apexgo/apex/app"
)

// The defaults of the "http" section, each written once: [DefaultConfig]
// is built from them, and [NewHealth] applies the health ones to a zero
// field.
const (
	DefaultAddr              = ":8080"
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 1 << 20
	DefaultShutdownTimeout   = 10 * time.Second
	DefaultRequestIDHeader   = "X-Request-ID"
	DefaultCSP               = "default-src 'none'; frame-ancestors 'none'"
	DefaultFrameOptions      = "DENY"
	DefaultReferrerPolicy    = "no-referrer"
	DefaultCORSMaxAge        = 600
	DefaultBodyLimit         = "1M"
	DefaultGzipLevel         = -1
	DefaultGzipMinLength     = 1024
	DefaultRequestTimeout    = 20 * time.Second
	DefaultLivePath          = "/livez"
	DefaultReadyPath         = "/readyz"
	DefaultHealthTimeout     = 2 * time.Second
	DefaultHealthLogInterval = time.Minute
)

// Config is the "http" section (APP_HTTP__*). Every field's default is the
// Default* constant it names.
type Config struct {
	// Addr is the listen address, host:port (host may be empty). Default
	// [DefaultAddr] (":8080").
	Addr string `koanf:"addr" validate:"required,listen_addr"`
	// ReadHeaderTimeout bounds reading request headers. Default
	// [DefaultReadHeaderTimeout] (5s).
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout" validate:"gt=0"`
	// ReadTimeout bounds reading a whole request. Default
	// [DefaultReadTimeout] (30s).
	ReadTimeout time.Duration `koanf:"read_timeout" validate:"gt=0"`
	// WriteTimeout bounds writing a response. Default
	// [DefaultWriteTimeout] (30s).
	WriteTimeout time.Duration `koanf:"write_timeout" validate:"gt=0"`
	// IdleTimeout closes idle keep-alive connections. Default
	// [DefaultIdleTimeout] (120s).
	IdleTimeout time.Duration `koanf:"idle_timeout" validate:"gt=0"`
	// MaxHeaderBytes bounds request headers, at least 4096. Default
	// [DefaultMaxHeaderBytes] (1 MiB).
	MaxHeaderBytes int `koanf:"max_header_bytes" validate:"min=4096"`
	// ShutdownTimeout is how long in-flight requests may run on stop
	// before connections are closed. Default [DefaultShutdownTimeout] (10s).
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout" validate:"gt=0"`
	// DrainDelay keeps serving after /readyz turns 503 on stop, so that a
	// load balancer notices before the listener closes. Default 0.
	DrainDelay time.Duration `koanf:"drain_delay" validate:"gte=0"`
	// TrustedProxies are the CIDRs of the reverse proxies in front of the
	// service (e.g. "10.0.0.0/8"): from them, X-Forwarded-For names the
	// client (its rightmost address not in them). Default none: the
	// client is the TCP peer. The client IP is echo's c.RealIP() (see
	// [ClientIP]); the rate limits by IP, realtime's per-IP limit and the
	// server span's client.address use it.
	TrustedProxies []string `koanf:"trusted_proxies" validate:"dive,cidr"`

	// RequestID is http.request_id: on by default.
	RequestID RequestIDConfig `koanf:"request_id"`
	// Recover is http.recover: a panic in a handler becomes a 500 problem
	// and an ERROR line with its stack. On by default.
	Recover Toggle `koanf:"recover"`
	// AccessLog is http.access_log: on by default.
	AccessLog AccessLogConfig `koanf:"access_log"`
	// Tracing is http.tracing: a server span per request when observe
	// records spans. On by default.
	Tracing Toggle `koanf:"tracing"`
	// Metrics is http.metrics: request counts and latency histograms by
	// route. On by default.
	Metrics Toggle `koanf:"metrics"`
	// SecurityHeaders is http.security_headers: on by default.
	SecurityHeaders SecurityHeadersConfig `koanf:"security_headers"`
	// CORS is http.cors: off by default (no allowed origin).
	CORS CORSConfig `koanf:"cors"`
	// BodyLimit is http.body_limit: on by default, 1M.
	BodyLimit BodyLimitConfig `koanf:"body_limit"`
	// Gzip is http.gzip: on by default.
	Gzip GzipConfig `koanf:"gzip"`
	// Timeout is http.timeout: on by default, 20s.
	Timeout TimeoutConfig `koanf:"timeout"`
	// Health is http.health: the /livez and /readyz endpoints.
	Health HealthConfig `koanf:"health"`
	// OpenAPI is http.openapi: the OpenAPI document at /openapi.json and
	// /openapi.yaml and the docs UI at /docs, served by the openapi
	// module (package httpx/openapi). On by default.
	OpenAPI OpenAPIConfig `koanf:"openapi"`
}

// Toggle switches a middleware on or off.
type Toggle struct {
	// Enabled turns the middleware on. Its default is given where the
	// Toggle is used.
	Enabled bool `koanf:"enabled"`
}

// RequestIDConfig is http.request_id: every request gets an ID, kept from
// the request header when [SaneRequestID] accepts it, generated otherwise,
// echoed in the response and put in every log line of the request.
type RequestIDConfig struct {
	// Enabled turns request IDs on. Default true.
	Enabled bool `koanf:"enabled"`
	// Header carries the ID both ways. Default [DefaultRequestIDHeader]
	// (X-Request-ID).
	Header string `koanf:"header" validate:"required"`
}

// AccessLogConfig is http.access_log: one INFO line per request.
type AccessLogConfig struct {
	// Enabled turns the access log on. Default true.
	Enabled bool `koanf:"enabled"`
	// SkipPaths are not logged (exact request paths). Default: the health
	// endpoints, [DefaultLivePath] and [DefaultReadyPath].
	SkipPaths []string `koanf:"skip_paths"`
}

// SecurityHeadersConfig is http.security_headers: the headers an API
// sends with every response.
type SecurityHeadersConfig struct {
	// Enabled sends the headers below and X-Content-Type-Options: nosniff.
	// Default true.
	Enabled bool `koanf:"enabled"`
	// ContentSecurityPolicy is sent as Content-Security-Policy; "" sends
	// none. Default [DefaultCSP] ("default-src 'none'; frame-ancestors
	// 'none'": an API serves no pages).
	ContentSecurityPolicy string `koanf:"content_security_policy"`
	// FrameOptions is sent as X-Frame-Options; "" sends none. Default
	// [DefaultFrameOptions] (DENY).
	FrameOptions string `koanf:"frame_options"`
	// ReferrerPolicy is sent as Referrer-Policy; "" sends none. Default
	// [DefaultReferrerPolicy] (no-referrer).
	ReferrerPolicy string `koanf:"referrer_policy"`
	// HSTSMaxAge, in seconds, sends Strict-Transport-Security on HTTPS
	// requests (TLS or X-Forwarded-Proto: https). Default 0 (off).
	HSTSMaxAge int `koanf:"hsts_max_age" validate:"gte=0"`
}

// CORSConfig is http.cors. CORS is off while AllowOrigins is empty.
type CORSConfig struct {
	// AllowOrigins are the origins allowed to call the API ("*" for any,
	// or "https://*.example.com"). Default none: CORS off.
	AllowOrigins []string `koanf:"allow_origins"`
	// AllowMethods answer preflights. Default (empty): echo's list, GET,
	// HEAD, PUT, PATCH, POST, DELETE.
	AllowMethods []string `koanf:"allow_methods"`
	// AllowHeaders answer preflights. Default (empty): the headers the
	// preflight asks for.
	AllowHeaders []string `koanf:"allow_headers"`
	// ExposeHeaders are readable by the browser's script. Default none.
	ExposeHeaders []string `koanf:"expose_headers"`
	// AllowCredentials lets browsers send cookies and credentials; it
	// cannot go with an origin of "*". Default false.
	AllowCredentials bool `koanf:"allow_credentials"`
	// MaxAge is how long browsers cache a preflight, in seconds. Default
	// [DefaultCORSMaxAge] (600).
	MaxAge int `koanf:"max_age" validate:"gte=0"`
}

// BodyLimitConfig is http.body_limit: a larger request body is refused
// with a 413 problem.
type BodyLimitConfig struct {
	// Enabled turns the limit on. Default true.
	Enabled bool `koanf:"enabled"`
	// Max is a size such as 512K, 1M or 10M. Default [DefaultBodyLimit] (1M).
	Max string `koanf:"max" validate:"required"`
}

// GzipConfig is http.gzip: responses are compressed for clients that
// accept gzip.
type GzipConfig struct {
	// Enabled turns compression on. Default true.
	Enabled bool `koanf:"enabled"`
	// Level is 1 (fastest) to 9 (smallest), or -1 for gzip's default (6).
	// Default [DefaultGzipLevel] (-1).
	Level int `koanf:"level" validate:"gte=-1,lte=9"`
	// MinLength is the smallest response compressed, in bytes. Default
	// [DefaultGzipMinLength] (1024).
	MinLength int `koanf:"min_length" validate:"gte=0"`
}

// TimeoutConfig is http.timeout: each request's context ends after
// Duration, and a handler that returns the context's error gets a 503
// problem. Handlers must pass the request context to what they call.
type TimeoutConfig struct {
	// Enabled turns the request timeout on. Default true.
	Enabled bool `koanf:"enabled"`
	// Duration bounds each request; it must be below write_timeout.
	// Default [DefaultRequestTimeout] (20s).
	Duration time.Duration `koanf:"duration" validate:"gt=0"`
}

// HealthConfig is http.health.
type HealthConfig struct {
	// LivePath answers 200 while the process runs. Default
	// [DefaultLivePath] (/livez).
	LivePath string `koanf:"live_path" validate:"required,startswith=/"`
	// ReadyPath runs the readiness checks: 200 when all pass, 503 while
	// one fails, the app starts or it drains. Default [DefaultReadyPath]
	// (/readyz).
	ReadyPath string `koanf:"ready_path" validate:"required,startswith=/"`
	// Timeout bounds each check that does not set its own. Default
	// [DefaultHealthTimeout] (2s).
	Timeout time.Duration `koanf:"timeout" validate:"gt=0"`
	// ShowErrors puts failing checks' error text in the /readyz body.
	// Default false: errors are logged, the body says only "fail".
	ShowErrors bool `koanf:"show_errors"`
	// LogInterval is the least time between two WARN lines of a check
	// that keeps failing; a check is also logged when it starts failing
	// and (at INFO) when it recovers. Default [DefaultHealthLogInterval] (1m).
	LogInterval time.Duration `koanf:"log_interval" validate:"gt=0"`
}

// DefaultConfig returns the built-in defaults.
func DefaultConfig() Config {
	return Config{
		Addr:              DefaultAddr,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		ReadTimeout:       DefaultReadTimeout,
		WriteTimeout:      DefaultWriteTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		ShutdownTimeout:   DefaultShutdownTimeout,
		RequestID:         RequestIDConfig{Enabled: true, Header: DefaultRequestIDHeader},
		Recover:           Toggle{Enabled: true},
		AccessLog:         AccessLogConfig{Enabled: true, SkipPaths: []string{DefaultLivePath, DefaultReadyPath}},
		Tracing:           Toggle{Enabled: true},
		Metrics:           Toggle{Enabled: true},
		SecurityHeaders: SecurityHeadersConfig{
			Enabled:               true,
			ContentSecurityPolicy: DefaultCSP,
			FrameOptions:          DefaultFrameOptions,
			ReferrerPolicy:        DefaultReferrerPolicy,
		},
		CORS:      CORSConfig{MaxAge: DefaultCORSMaxAge},
		BodyLimit: BodyLimitConfig{Enabled: true, Max: DefaultBodyLimit},
		Gzip:      GzipConfig{Enabled: true, Level: DefaultGzipLevel, MinLength: DefaultGzipMinLength},
		Timeout:   TimeoutConfig{Enabled: true, Duration: DefaultRequestTimeout},
		Health: HealthConfig{
			LivePath: DefaultLivePath, ReadyPath: DefaultReadyPath,
			Timeout: DefaultHealthTimeout, LogInterval: DefaultHealthLogInterval,
		},
		OpenAPI: OpenAPIConfig{
			Enabled: true, JSONPath: DefaultOpenAPIJSONPath, YAMLPath: DefaultOpenAPIYAMLPath, UIPath: DefaultOpenAPIUIPath,
		},
	}
}

// Validate implements app.Validator.
func (c Config) Validate() []app.Problem {
	var ps []app.Problem
	for _, p := range c.OpenAPI.Validate() {
		p.Key = "openapi." + p.Key
		ps = append(ps, p)
	}
	if c.Timeout.Enabled && c.Timeout.Duration >= c.WriteTimeout {
		ps = append(ps, app.Problem{Key: "timeout.duration", Message: "must be less than write_timeout, or responses to timed-out requests are cut off"})
	}
	if c.BodyLimit.Enabled {
		if _, err := parseSize(c.BodyLimit.Max); err != nil {
			ps = append(ps, app.Problem{Key: "body_limit.max", Message: "must be a size such as 512K, 1M or 10M"})
		}
	}
	if c.CORS.AllowCredentials {
		for _, o := range c.CORS.AllowOrigins {
			if o == "*" {
				ps = append(ps, app.Problem{Key: "cors.allow_origins", Message: `cannot contain "*" when allow_credentials is true`})
			}
		}
	}
	return ps
}

// parseSize reads echo's size syntax (512K, 1M, 10MB), as BodyLimit does.
func parseSize(s string) (int64, error) {
	n, err := bytes.Parse(s)
	if err == nil && n <= 0 {
		err = errors.New("size must be positive")
	}
	return n, err
}
