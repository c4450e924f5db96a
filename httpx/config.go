package httpx

import (
	"errors"
	"time"

	"github.com/labstack/gommon/bytes"

	"github.com/apexgo/apex/app"
)

// Config is the "http" section.
type Config struct {
	// Addr is the listen address. Default ":8080".
	Addr string `koanf:"addr" validate:"required,listen_addr"`
	// ReadHeaderTimeout bounds reading request headers. Default 5s.
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout" validate:"gt=0"`
	// ReadTimeout bounds reading a whole request. Default 30s.
	ReadTimeout time.Duration `koanf:"read_timeout" validate:"gt=0"`
	// WriteTimeout bounds writing a response. Default 30s.
	WriteTimeout time.Duration `koanf:"write_timeout" validate:"gt=0"`
	// IdleTimeout closes idle keep-alive connections. Default 120s.
	IdleTimeout time.Duration `koanf:"idle_timeout" validate:"gt=0"`
	// MaxHeaderBytes bounds request headers. Default 1 MiB.
	MaxHeaderBytes int `koanf:"max_header_bytes" validate:"min=4096"`
	// ShutdownTimeout is how long in-flight requests may run on stop
	// before connections are closed. Default 10s.
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout" validate:"gt=0"`
	// DrainDelay keeps serving after /readyz turns 503 on stop, so that a
	// load balancer notices before the listener closes. Default 0.
	DrainDelay time.Duration `koanf:"drain_delay" validate:"gte=0"`

	RequestID       RequestIDConfig       `koanf:"request_id"`
	Recover         Toggle                `koanf:"recover"`
	AccessLog       AccessLogConfig       `koanf:"access_log"`
	Tracing         Toggle                `koanf:"tracing"`
	Metrics         Toggle                `koanf:"metrics"`
	SecurityHeaders SecurityHeadersConfig `koanf:"security_headers"`
	CORS            CORSConfig            `koanf:"cors"`
	BodyLimit       BodyLimitConfig       `koanf:"body_limit"`
	Gzip            GzipConfig            `koanf:"gzip"`
	Timeout         TimeoutConfig         `koanf:"timeout"`
	Health          HealthConfig          `koanf:"health"`
}

// Toggle switches a middleware on or off.
type Toggle struct {
	Enabled bool `koanf:"enabled"`
}

// RequestIDConfig is http.request_id.
type RequestIDConfig struct {
	Enabled bool `koanf:"enabled"`
	// Header carries the ID both ways. Default X-Request-ID.
	Header string `koanf:"header" validate:"required"`
}

// AccessLogConfig is http.access_log.
type AccessLogConfig struct {
	Enabled bool `koanf:"enabled"`
	// SkipPaths are not logged (exact request paths). Default: the health
	// endpoints.
	SkipPaths []string `koanf:"skip_paths"`
}

// SecurityHeadersConfig is http.security_headers.
type SecurityHeadersConfig struct {
	Enabled bool `koanf:"enabled"`
	// ContentSecurityPolicy default: "default-src 'none'; frame-ancestors 'none'" (an API serves no pages).
	ContentSecurityPolicy string `koanf:"content_security_policy"`
	// FrameOptions default DENY.
	FrameOptions string `koanf:"frame_options"`
	// ReferrerPolicy default no-referrer.
	ReferrerPolicy string `koanf:"referrer_policy"`
	// HSTSMaxAge, in seconds, sends Strict-Transport-Security on HTTPS
	// requests (TLS or X-Forwarded-Proto: https). Default 0 (off).
	HSTSMaxAge int `koanf:"hsts_max_age" validate:"gte=0"`
}

// CORSConfig is http.cors. CORS is off while AllowOrigins is empty.
type CORSConfig struct {
	AllowOrigins     []string `koanf:"allow_origins"`
	AllowMethods     []string `koanf:"allow_methods"`
	AllowHeaders     []string `koanf:"allow_headers"`
	ExposeHeaders    []string `koanf:"expose_headers"`
	AllowCredentials bool     `koanf:"allow_credentials"`
	// MaxAge is how long browsers cache a preflight, in seconds. Default 600.
	MaxAge int `koanf:"max_age" validate:"gte=0"`
}

// BodyLimitConfig is http.body_limit.
type BodyLimitConfig struct {
	Enabled bool `koanf:"enabled"`
	// Max is a size such as 512K, 1M (the default) or 10M.
	Max string `koanf:"max" validate:"required"`
}

// GzipConfig is http.gzip.
type GzipConfig struct {
	Enabled bool `koanf:"enabled"`
	// Level is 1 (fastest) to 9 (smallest), or -1 for the default (6).
	Level int `koanf:"level" validate:"gte=-1,lte=9"`
	// MinLength is the smallest response compressed, in bytes. Default 1024.
	MinLength int `koanf:"min_length" validate:"gte=0"`
}

// TimeoutConfig is http.timeout: each request's context ends after
// Duration, and a handler that returns the context's error gets a 503
// problem. Handlers must pass the request context to what they call.
type TimeoutConfig struct {
	Enabled bool `koanf:"enabled"`
	// Duration default 20s; it must be below write_timeout.
	Duration time.Duration `koanf:"duration" validate:"gt=0"`
}

// HealthConfig is http.health.
type HealthConfig struct {
	// LivePath default /livez; ReadyPath default /readyz.
	LivePath  string `koanf:"live_path" validate:"required,startswith=/"`
	ReadyPath string `koanf:"ready_path" validate:"required,startswith=/"`
	// Timeout bounds each check that does not set its own. Default 2s.
	Timeout time.Duration `koanf:"timeout" validate:"gt=0"`
	// ShowErrors puts failing checks' error text in the /readyz body.
	// Default false: errors are logged, the body says only "fail".
	ShowErrors bool `koanf:"show_errors"`
}

// DefaultConfig returns the built-in defaults.
func DefaultConfig() Config {
	return Config{
		Addr:              ":8080",
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ShutdownTimeout:   10 * time.Second,
		RequestID:         RequestIDConfig{Enabled: true, Header: echoHeaderRequestID},
		Recover:           Toggle{Enabled: true},
		AccessLog:         AccessLogConfig{Enabled: true, SkipPaths: []string{"/livez", "/readyz"}},
		Tracing:           Toggle{Enabled: true},
		Metrics:           Toggle{Enabled: true},
		SecurityHeaders: SecurityHeadersConfig{
			Enabled:               true,
			ContentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'",
			FrameOptions:          "DENY",
			ReferrerPolicy:        "no-referrer",
		},
		CORS:      CORSConfig{MaxAge: 600},
		BodyLimit: BodyLimitConfig{Enabled: true, Max: "1M"},
		Gzip:      GzipConfig{Enabled: true, Level: -1, MinLength: 1024},
		Timeout:   TimeoutConfig{Enabled: true, Duration: 20 * time.Second},
		Health:    HealthConfig{LivePath: "/livez", ReadyPath: "/readyz", Timeout: 2 * time.Second},
	}
}

// Validate implements app.Validator.
func (c Config) Validate() []app.Problem {
	var ps []app.Problem
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

const echoHeaderRequestID = "X-Request-ID"

// parseSize reads echo's size syntax (512K, 1M, 10MB), as BodyLimit does.
func parseSize(s string) (int64, error) {
	n, err := bytes.Parse(s)
	if err == nil && n <= 0 {
		err = errors.New("size must be positive")
	}
	return n, err
}
