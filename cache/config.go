package cache

import (
	"maps"
	"slices"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/cache/memory"
	"github.com/apexgo/apex/cache/redis"
)

// Defaults of the "cache" section, used by [DefaultConfig]; the backends
// apply the same constants when used without the module.
const (
	// DefaultDriver is cache.driver and cache.rate_limit.driver.
	DefaultDriver = "auto"
	// DefaultMaxEntries is cache.memory.max_entries.
	DefaultMaxEntries = memory.DefaultMaxEntries
	// DefaultMaxKeys is cache.rate_limit.max_keys.
	DefaultMaxKeys = memory.DefaultMaxKeys
	// DefaultLocalTTL is cache.redis.local_ttl.
	DefaultLocalTTL = redis.DefaultLocalTTL
	// DefaultLoadTimeout is cache.redis.load_timeout.
	DefaultLoadTimeout = redis.DefaultLoadTimeout
	// DefaultFailPolicy is cache.rate_limit.fail_policy.
	DefaultFailPolicy = "fail_open"
	// DefaultErrorLogInterval is cache.rate_limit.error_log_interval.
	DefaultErrorLogInterval = time.Minute
)

// Config is the "cache" section. The Redis connection itself (address,
// timeouts, client-side cache size) is the shared "redis" section.
type Config struct {
	// Driver is auto (Redis when redis.addr/addrs is set, else memory),
	// redis or memory. Default auto.
	Driver string `koanf:"driver" validate:"oneof=auto redis memory"`
	// Prefix starts every key so services can share a Redis. Default
	// empty, meaning the service name and a colon ("orders:").
	Prefix string `koanf:"prefix"`
	// Redis tunes the Redis backend (cache.redis.*).
	Redis RedisConfig `koanf:"redis"`
	// Memory bounds the in-process backend (cache.memory.*).
	Memory MemoryConfig `koanf:"memory"`
	// RateLimit configures the limiter and its middleware
	// (cache.rate_limit.*).
	RateLimit RateLimitConfig `koanf:"rate_limit"`
}

// RedisConfig is cache.redis.
type RedisConfig struct {
	// ClientSide serves hot keys from process memory with Redis
	// invalidating them on any write (server-assisted client-side
	// caching); the shared redis.client_cache_size must not be 0. Default
	// false.
	ClientSide bool `koanf:"client_side"`
	// LocalTTL bounds how long a key lives in process memory. Default
	// [DefaultLocalTTL] (1m).
	LocalTTL time.Duration `koanf:"local_ttl" validate:"gt=0"`
	// LoadTimeout bounds a GetOrLoad loader shared by several callers
	// when the first caller's context has no deadline (a cancelled caller
	// does not cancel the others' load). Default [DefaultLoadTimeout]
	// (30s).
	LoadTimeout time.Duration `koanf:"load_timeout" validate:"gt=0"`
}

// MemoryConfig is cache.memory.
type MemoryConfig struct {
	// MaxEntries bounds the entry count. Default [DefaultMaxEntries]
	// (100000).
	MaxEntries int `koanf:"max_entries" validate:"gte=1"`
	// MaxBytes, when set, bounds keys plus values instead. Default 0
	// (bound by MaxEntries).
	MaxBytes int64 `koanf:"max_bytes" validate:"gte=0"`
}

// RateLimitConfig is cache.rate_limit.
type RateLimitConfig struct {
	// Driver is auto, redis or memory, as for the cache. Default auto.
	Driver string `koanf:"driver" validate:"oneof=auto redis memory"`
	// MaxKeys bounds the keys the memory limiter tracks. Default
	// [DefaultMaxKeys] (1000000).
	MaxKeys int `koanf:"max_keys" validate:"gte=1"`
	// FailPolicy is fail_open (default: let requests through and log an
	// ERROR) or fail_closed (answer 503) when the limiter's backend fails.
	FailPolicy string `koanf:"fail_policy" validate:"oneof=fail_open fail_closed"`
	// ErrorLogInterval is the least time between two fail_open ERROR
	// lines. Default [DefaultErrorLogInterval] (1m).
	ErrorLogInterval time.Duration `koanf:"error_log_interval" validate:"gt=0"`
	// Policies are named limits that routes refer to with
	// RateLimits.Middleware("name"). Default none.
	Policies map[string]PolicyConfig `koanf:"policies" validate:"dive"`
	// Global names policies applied to every route. Default none.
	Global []string `koanf:"global"`
}

// PolicyConfig is one named policy in config:
// cache.rate_limit.policies.<name>.
type PolicyConfig struct {
	// Rate is the number of events per Period; required, at least 1.
	Rate int `koanf:"rate" validate:"gte=1"`
	// Period is the time Rate events take; required.
	Period time.Duration `koanf:"period" validate:"gt=0"`
	// Burst is how many events may come at once. Default 0, meaning Rate.
	Burst int `koanf:"burst" validate:"gte=0"`
	// Key is what the policy counts per: ip (the client address, behind
	// http.trusted_proxies), subject (the authenticated subject, from auth) or
	// route (one budget per endpoint). Required.
	Key string `koanf:"key" validate:"oneof=ip subject route"`
}

// DefaultConfig returns the built-in defaults.
func DefaultConfig() Config {
	return Config{
		Driver: DefaultDriver,
		Redis:  RedisConfig{LocalTTL: DefaultLocalTTL, LoadTimeout: DefaultLoadTimeout},
		Memory: MemoryConfig{MaxEntries: DefaultMaxEntries},
		RateLimit: RateLimitConfig{
			Driver: DefaultDriver, MaxKeys: DefaultMaxKeys, FailPolicy: DefaultFailPolicy, ErrorLogInterval: DefaultErrorLogInterval,
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

func (p PolicyConfig) limit() Limit {
	burst := p.Burst
	if burst == 0 {
		burst = p.Rate
	}
	return Limit{Rate: p.Rate, Period: p.Period, Burst: burst}
}
