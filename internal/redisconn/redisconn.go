// Package redisconn is the one Redis client of an apex process: configured
// once under redis.*, built on rueidis with auto-pipelining, shared by
// every module that can use Redis (cache, rate limits, auth revocation,
// jobs, realtime). It exists only when redis.addr or redis.addrs is set;
// modules take it as an optional rueidis.Client and fall back to their
// in-process backends without it.
//
// The client fails fast while Redis is down (see [New] and
// [ErrUnavailable]) and tracks this process's recent writes
// ([RecentWrites]) so that reads served from the client-side cache see
// them.
package redisconn

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
	"github.com/redis/rueidis/rueidisotel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

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
	// DefaultProbeInterval is how often a client that fails fast PINGs
	// Redis to see it back (redis.probe_interval).
	DefaultProbeInterval = 250 * time.Millisecond
)

// Config is the "redis" section.
type Config struct {
	// Addr is one Redis server, host:port. Empty with Addrs empty: no Redis.
	// Default empty.
	Addr string `koanf:"addr" validate:"omitempty,listen_addr"`
	// Addrs are several seed addresses: Redis Cluster nodes, or Sentinels
	// when MasterName is set. Default none.
	Addrs []string `koanf:"addrs" validate:"dive,listen_addr"`
	// MasterName selects Sentinel mode: the monitored master's name.
	// Default empty (no Sentinel).
	MasterName string `koanf:"master_name"`
	// Username authenticates with an ACL user. Default empty (the
	// default user).
	Username string `koanf:"username"`
	// Password authenticates (ACL or requirepass). Default empty.
	Password app.Secret `koanf:"password"`
	// DB is the database number (standalone and Sentinel only). Default 0.
	DB int `koanf:"db" validate:"gte=0,lte=15"`
	// TLS configures encrypted connections (redis.tls.*). Default off.
	TLS TLSConfig `koanf:"tls"`
	// DialTimeout bounds each TCP (and TLS) connect, at start and on
	// every reconnect; the handshake that follows (HELLO, AUTH, SELECT) is
	// bounded by CommandTimeout. Default [DefaultDialTimeout] (5s).
	DialTimeout time.Duration `koanf:"dial_timeout" validate:"gt=0"`
	// CommandTimeout bounds each command whose context has no earlier
	// deadline (blocking commands excepted), and each probe while Redis
	// is down. Default [DefaultCommandTimeout] (3s).
	CommandTimeout time.Duration `koanf:"command_timeout" validate:"gt=0"`
	// ClientCacheSize is the server-assisted client-side cache per
	// connection, in bytes; 0 disables client-side caching. Default
	// [DefaultClientCacheSize] (16 MiB).
	ClientCacheSize int `koanf:"client_cache_size" validate:"gte=0"`
	// ProbeInterval is how often, while Redis is down and commands fail
	// fast, a PING checks whether it is back (the first at once, the
	// others jittered by ±25%). Default [DefaultProbeInterval] (250ms).
	ProbeInterval time.Duration `koanf:"probe_interval" validate:"gt=0"`
}

// TLSConfig is redis.tls.
type TLSConfig struct {
	// Enabled turns TLS on. Default false.
	Enabled bool `koanf:"enabled"`
	// ServerName overrides the name checked in the server's certificate.
	// Default empty: the address's host.
	ServerName string `koanf:"server_name"`
	// CAFile is a PEM bundle to trust instead of the system roots.
	// Default empty (the system roots).
	CAFile string `koanf:"ca_file"`
	// InsecureSkipVerify disables certificate checks: tests only. Default
	// false.
	InsecureSkipVerify bool `koanf:"insecure_skip_verify"`
}

// DefaultConfig returns the built-in defaults: no Redis.
func DefaultConfig() Config {
	return Config{
		DialTimeout: DefaultDialTimeout, CommandTimeout: DefaultCommandTimeout,
		ClientCacheSize: DefaultClientCacheSize, ProbeInterval: DefaultProbeInterval,
	}
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

// Params are the optional hooks of [New].
type Params struct {
	// TracerProvider, when set, traces commands through rueidisotel.
	TracerProvider trace.TracerProvider
	// MeterProvider, with a TracerProvider, measures them too.
	MeterProvider metric.MeterProvider
	// Registerer, when set, receives the fail-fast metrics
	// (apex_redis_up, apex_redis_outages_total, apex_redis_rejected_total).
	Registerer prometheus.Registerer
	// Log receives one ERROR when Redis becomes unavailable and one INFO
	// when it is back. Default: no logging.
	Log *zap.Logger
	// ClientName labels connections in CLIENT LIST. Default: none.
	ClientName string
}

// New connects to Redis as cfg says and pings it; an error names the
// setting (redis.addr or redis.addrs). With a TracerProvider, commands are
// traced (and measured with a MeterProvider) through rueidisotel.
//
// The client fails fast: once a command sees the server refuse or drop a
// connection (or rueidis closes one that stopped answering), that
// command and every later one fail at once, unsent, with an error
// wrapping [ErrUnavailable] and the cause, until a background PING (the
// first at once, then every cfg.ProbeInterval, jittered) sees Redis
// answer. A command that misses its deadline starts one such PING; if it
// gets no answer within cfg.CommandTimeout, the client fails fast too.
// Non-blocking commands without an earlier deadline are bounded by
// cfg.CommandTimeout. Read-only commands are not retried on connection
// errors. DoStream, DoMultiStream, Dedicate and Nodes are not guarded.
func New(ctx context.Context, cfg Config, p Params) (rueidis.Client, error) {
	if !cfg.Enabled() {
		return nil, errors.New("redisconn: neither redis.addr nor redis.addrs is set")
	}
	if !layoutMatches() {
		return nil, errors.New("redisconn: this rueidis version's RedisResult layout is not the one the fail-fast client was written for")
	}
	cfg.CommandTimeout = cmp.Or(cfg.CommandTimeout, DefaultCommandTimeout)
	cfg.DialTimeout = cmp.Or(cfg.DialTimeout, DefaultDialTimeout)
	b := &breaker{
		interval: cmp.Or(cfg.ProbeInterval, DefaultProbeInterval), probeTimeout: cfg.CommandTimeout,
		log: p.Log,
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	if b.log == nil {
		b.log = zap.NewNop()
	}
	opt := rueidis.ClientOption{
		Username:   cfg.Username,
		Password:   cfg.Password.Reveal(),
		SelectDB:   cfg.DB,
		ClientName: p.ClientName,
		// KeepAlive is also the idle time after which rueidis PINGs a
		// connection and closes it when no answer comes within
		// ConnWriteTimeout: that is how a frozen server is noticed.
		Dialer:            net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: rueidis.DefaultTCPKeepAlive},
		RetryDelay:        b.retryDelay,
		ConnWriteTimeout:  cfg.CommandTimeout,
		CacheSizeEachConn: cfg.ClientCacheSize,
		DisableCache:      cfg.ClientCacheSize == 0,
	}
	if cfg.ClientCacheSize > 0 {
		// Fed to the Locals (see [Local]); nil (a connection closed, a
		// FLUSHALL) drops them.
		b.inv = &invalidations{}
		opt.OnInvalidations = b.inv.deliver
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
		base rueidis.Client
		err  error
	)
	if p.TracerProvider != nil {
		opts := []rueidisotel.Option{rueidisotel.WithTracerProvider(p.TracerProvider)}
		if p.MeterProvider != nil {
			opts = append(opts, rueidisotel.WithMeterProvider(p.MeterProvider))
		}
		base, err = rueidisotel.NewClient(opt, opts...)
	} else {
		base, err = rueidis.NewClient(opt)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: cannot connect to Redis at %v: %w", cfg.setting(), opt.InitAddress, err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if err := base.Do(ctx, base.B().Ping().Build()).Error(); err != nil {
		base.Close()
		return nil, fmt.Errorf("%s: Redis at %v does not answer PING: %w", cfg.setting(), opt.InitAddress, err)
	}
	if b.metrics, err = newBreakerMetrics(p.Registerer); err != nil {
		base.Close()
		return nil, err
	}
	b.base = base
	return &client{Client: base, b: b, timeout: cfg.CommandTimeout, inv: b.inv}, nil
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

// Check is the readiness check of a Redis client: a PING. While the
// shared client fails fast, the check fails at once with the reason
// (Redis unavailable since when, and the last error).
type Check struct {
	// Client is the client to PING.
	Client rueidis.Client
}

// Name implements httpx.HealthCheck.
func (Check) Name() string { return "redis" }

// Check implements httpx.HealthCheck.
func (c Check) Check(ctx context.Context) error {
	return c.Client.Do(ctx, c.Client.B().Ping().Build()).Error()
}
