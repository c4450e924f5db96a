package cache

import (
	"maps"
	"net"
	"slices"
	"time"

	"github.com/apexgo/apex/app"
)

// Config is the "cache" section.
type Config struct {
	// Driver is auto (Redis when redis.addr/addrs is set, else memory),
	// redis or memory. Default auto.
	Driver string `koanf:"driver" validate:"oneof=auto redis memory"`
	// Prefix starts every key so services can share a Redis. Default: the
	// service name and a colon ("orders:").
	Prefix string `koanf:"prefix"`
	// Redis tunes the Redis backend.
	Redis RedisConfig `koanf:"redis"`
	// Memory bounds the in-process backend.
	Memory MemoryConfig `koanf:"memory"`
	// RateLimit configures the limiter and its middleware.
	RateLimit RateLimitConfig `koanf:"rate_limit"`
}

// RedisConfig is cache.redis.
type RedisConfig struct {
	// ClientSide serves hot keys from process memory with Redis
	// invalidating them on any write (server-assisted client-side
	// caching). Default false.
	ClientSide bool `koanf:"client_side"`
	// LocalTTL bounds how long a key lives in process memory. Default 1m.
	LocalTTL time.Duration `koanf:"local_ttl" validate:"gt=0"`
	// LoadTimeout bounds a GetOrLoad loader shared by several callers
	// when the first caller's context has no deadline (a cancelled caller
	// does not cancel the others' load). Default 30s.
	LoadTimeout time.Duration `koanf:"load_timeout" validate:"gt=0"`
}

// MemoryConfig is cache.memory.
type MemoryConfig struct {
	// MaxEntries bounds the entry count. Default 100000.
	MaxEntries int `koanf:"max_entries" validate:"gte=1"`
	// MaxBytes, when set, bounds keys plus values instead. Default 0.
	MaxBytes int64 `koanf:"max_bytes" validate:"gte=0"`
}

// RateLimitConfig is cache.rate_limit.
type RateLimitConfig struct {
	// Driver is auto, redis or memory, as for the cache. Default auto.
	Driver string `koanf:"driver" validate:"oneof=auto redis memory"`
	// MaxKeys bounds the keys the memory limiter tracks. Default 1000000.
	MaxKeys int `koanf:"max_keys" validate:"gte=1"`
	// FailPolicy is fail_open (default: let requests through and log an
	// ERROR) or fail_closed (answer 503) when the limiter's backend fails.
	FailPolicy string `koanf:"fail_policy" validate:"oneof=fail_open fail_closed"`
	// ErrorLogInterval is the least time between two fail_open ERROR
	// lines. Default 1m.
	ErrorLogInterval time.Duration `koanf:"error_log_interval" validate:"gt=0"`
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed when
	// keying by IP. Default none.
	TrustedProxies []string `koanf:"trusted_proxies" validate:"dive,cidr"`
	// Policies are named limits that routes refer to with
	// RateLimits.Middleware("name").
	Policies map[string]PolicyConfig `koanf:"policies" validate:"dive"`
	// Global names policies applied to every route. Default none.
	Global []string `koanf:"global"`
}

// PolicyConfig is one named policy in config.
type PolicyConfig struct {
	// Rate events per Period, bursts of Burst (default: Rate).
	Rate   int           `koanf:"rate" validate:"gte=1"`
	Period time.Duration `koanf:"period" validate:"gt=0"`
	Burst  int           `koanf:"burst" validate:"gte=0"`
	// Key is ip, subject or route.
	Key string `koanf:"key" validate:"oneof=ip subject route"`
}

// DefaultConfig returns the built-in defaults.
func DefaultConfig() Config {
	return Config{
		Driver: "auto",
		Redis:  RedisConfig{LocalTTL: time.Minute, LoadTimeout: 30 * time.Second},
		Memory: MemoryConfig{MaxEntries: 100_000},
		RateLimit: RateLimitConfig{
			Driver: "auto", MaxKeys: 1_000_000, FailPolicy: "fail_open", ErrorLogInterval: time.Minute,
		},
	}
}

// Validate implements app.Validator.
func (c Config) Validate() []app.Problem {
	var ps []app.Problem
	for _, name := range slices.Sorted(maps.Keys(c.RateLimit.Policies)) {
		p := c.RateLimit.Policies[name]
		if p.Rate < 1 || p.Period <= 0 {
			continue // reported by the validate tags
		}
		if msg := validLimit(p.limit()); msg != "" {
			ps = append(ps, app.Problem{Key: "rate_limit.policies." + name, Message: msg})
		}
	}
	for _, name := range c.RateLimit.Global {
		if _, ok := c.RateLimit.Policies[name]; !ok {
			ps = append(ps, app.Problem{Key: "rate_limit.global", Message: "names an undefined policy " + name})
		}
	}
	return ps
}

func (c RateLimitConfig) trusted() []*net.IPNet {
	var out []*net.IPNet
	for _, s := range c.TrustedProxies {
		if _, n, err := net.ParseCIDR(s); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func (p PolicyConfig) limit() Limit {
	burst := p.Burst
	if burst == 0 {
		burst = p.Rate
	}
	return Limit{Rate: p.Rate, Period: p.Period, Burst: burst}
}
