// Package redisconn is the one Redis client of an apex process: configured
// once under redis.*, built on rueidis with auto-pipelining, shared by
// every module that can use Redis (cache, rate limits, auth revocation,
// jobs, realtime). It exists only when redis.addr or redis.addrs is set;
// modules take it as an optional rueidis.Client and fall back to their
// in-process backends without it.
package redisconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/redis/rueidis"
	"github.com/redis/rueidis/rueidisotel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/apexgo/apex/app"
)

// Defaults of the "redis" section, used by [DefaultConfig] and by every
// Redis backend that applies its own defaults.
const (
	// DefaultDialTimeout bounds connecting (redis.dial_timeout).
	DefaultDialTimeout = 5 * time.Second
	// DefaultCommandTimeout bounds each command (redis.command_timeout).
	DefaultCommandTimeout = 3 * time.Second
	// DefaultClientCacheSize is the client-side cache per connection
	// (redis.client_cache_size).
	DefaultClientCacheSize = 16 << 20
)

// Config is the "redis" section.
type Config struct {
	// Addr is one Redis server, host:port. Empty with Addrs empty: no Redis.
	Addr string `koanf:"addr" validate:"omitempty,listen_addr"`
	// Addrs are several seed addresses: Redis Cluster nodes, or Sentinels
	// when MasterName is set.
	Addrs []string `koanf:"addrs" validate:"dive,listen_addr"`
	// MasterName selects Sentinel mode: the monitored master's name.
	MasterName string `koanf:"master_name"`
	// Username and Password authenticate (ACL or requirepass).
	Username string     `koanf:"username"`
	Password app.Secret `koanf:"password"`
	// DB is the database number (standalone and Sentinel only). Default 0.
	DB int `koanf:"db" validate:"gte=0,lte=15"`
	// TLS configures encrypted connections.
	TLS TLSConfig `koanf:"tls"`
	// DialTimeout bounds connecting. Default 5s.
	DialTimeout time.Duration `koanf:"dial_timeout" validate:"gt=0"`
	// CommandTimeout bounds each command apex's backends send. Default 3s.
	CommandTimeout time.Duration `koanf:"command_timeout" validate:"gt=0"`
	// ClientCacheSize is the server-assisted client-side cache per
	// connection, in bytes; 0 disables client-side caching. Default 16 MiB.
	ClientCacheSize int `koanf:"client_cache_size" validate:"gte=0"`
}

// TLSConfig is redis.tls.
type TLSConfig struct {
	Enabled bool `koanf:"enabled"`
	// ServerName overrides the name checked in the server's certificate.
	ServerName string `koanf:"server_name"`
	// CAFile is a PEM bundle to trust instead of the system roots.
	CAFile string `koanf:"ca_file"`
	// InsecureSkipVerify disables certificate checks: tests only.
	InsecureSkipVerify bool `koanf:"insecure_skip_verify"`
}

// DefaultConfig returns the built-in defaults: no Redis.
func DefaultConfig() Config {
	return Config{DialTimeout: DefaultDialTimeout, CommandTimeout: DefaultCommandTimeout, ClientCacheSize: DefaultClientCacheSize}
}

// Validate implements app.Validator.
func (c Config) Validate() []app.Problem {
	if c.Addr != "" && len(c.Addrs) > 0 {
		return []app.Problem{{Key: "addrs", Message: "set either addr or addrs, not both"}}
	}
	if c.MasterName != "" && len(c.Addrs) == 0 && c.Addr == "" {
		return []app.Problem{{Key: "addrs", Message: "is required with master_name (the Sentinel addresses)"}}
	}
	return nil
}

// Enabled reports whether Redis is configured.
func (c Config) Enabled() bool { return c.Addr != "" || len(c.Addrs) > 0 }

// setting names the config key that holds the addresses, and its
// environment variable, for errors.
func (c Config) setting() string {
	key := "redis.addrs"
	if c.Addr != "" {
		key = "redis.addr"
	}
	return key + " (" + app.EnvName(key) + ")"
}

// Params are the optional telemetry hooks of [New].
type Params struct {
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// ClientName labels connections in CLIENT LIST. Default: none.
	ClientName string
}

// New connects to Redis as cfg says and pings it; an error names the
// setting (redis.addr or redis.addrs). With a TracerProvider, commands are
// traced (and measured with a MeterProvider) through rueidisotel.
func New(ctx context.Context, cfg Config, p Params) (rueidis.Client, error) {
	if !cfg.Enabled() {
		return nil, errors.New("redisconn: neither redis.addr nor redis.addrs is set")
	}
	opt := rueidis.ClientOption{
		Username:          cfg.Username,
		Password:          cfg.Password.Reveal(),
		SelectDB:          cfg.DB,
		ClientName:        p.ClientName,
		Dialer:            net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second},
		ConnWriteTimeout:  cfg.CommandTimeout,
		CacheSizeEachConn: cfg.ClientCacheSize,
		DisableCache:      cfg.ClientCacheSize == 0,
	}
	if cfg.Addr != "" {
		opt.InitAddress = []string{cfg.Addr}
		opt.ForceSingleClient = true
	} else {
		opt.InitAddress = cfg.Addrs
	}
	if cfg.MasterName != "" {
		opt.Sentinel = rueidis.SentinelOption{MasterSet: cfg.MasterName, Username: cfg.Username, Password: cfg.Password.Reveal(), Dialer: opt.Dialer}
	}
	if cfg.TLS.Enabled {
		tc, err := tlsConfig(cfg.TLS)
		if err != nil {
			return nil, err
		}
		opt.TLSConfig = tc
		opt.Sentinel.TLSConfig = tc
	}
	var (
		client rueidis.Client
		err    error
	)
	if p.TracerProvider != nil {
		opts := []rueidisotel.Option{rueidisotel.WithTracerProvider(p.TracerProvider)}
		if p.MeterProvider != nil {
			opts = append(opts, rueidisotel.WithMeterProvider(p.MeterProvider))
		}
		client, err = rueidisotel.NewClient(opt, opts...)
	} else {
		client, err = rueidis.NewClient(opt)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: cannot connect to Redis at %v: %w", cfg.setting(), opt.InitAddress, err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if err := client.Do(ctx, client.B().Ping().Build()).Error(); err != nil {
		client.Close()
		return nil, fmt.Errorf("%s: Redis at %v does not answer PING: %w", cfg.setting(), opt.InitAddress, err)
	}
	return client, nil
}

func tlsConfig(c TLSConfig) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // opt-in, documented as tests only
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("redis.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("redis.tls.ca_file: no PEM certificate found")
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// Check is the readiness check of a Redis client: a PING.
type Check struct {
	Client rueidis.Client
}

// Name implements httpx.HealthCheck.
func (Check) Name() string { return "redis" }

// Check implements httpx.HealthCheck.
func (c Check) Check(ctx context.Context) error {
	return c.Client.Do(ctx, c.Client.B().Ping().Build()).Error()
}
