package cache

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/cache/internal/backend"
	"github.com/apexgo/apex/cache/memory"
	"github.com/apexgo/apex/cache/redis"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/internal/driver"
	"github.com/apexgo/apex/internal/redisconn"
	"github.com/apexgo/apex/observe"
)

// Module provides the "cache" section, a [Cache], a [Limiter] and
// [*RateLimits], and adds the policies named in cache.rate_limit.global
// as app-wide middleware. It takes the process's rueidis.Client from
// [redisconn.Module] when Redis is configured (driver auto or redis) and
// falls back to process memory otherwise (driver auto or memory); driver
// redis without a Redis address is a start error.
var Module = fx.Module("cache",
	app.ProvideSection("cache", DefaultConfig),
	fx.Provide(newCache, newLimiter, newRateLimits, newKeyLimiter, httpx.AsMiddlewares(globalMiddleware)),
	// Build everything at start even if nothing asks for it yet, so that
	// a bad driver or policy stops the app before it serves.
	fx.Invoke(func(Cache, Limiter, *RateLimits) {}),
	// A handler that returns a cache error from a Redis outage answers
	// 503 (code "unavailable"), not 500.
	httpx.MapError(ErrUnavailable, http.StatusServiceUnavailable),
)

type backendIn struct {
	fx.In
	Config     Config
	Redis      redisconn.Config
	Info       app.Info
	Client     rueidis.Client `optional:"true"`
	Registerer prometheus.Registerer
}

// The cache and the limiter each have their own space under cache.prefix,
// so that no cache key (which may come from user input) can overwrite
// limiter state, nor state that other modules keep under the service
// name (auth's "<service>:auth:").
const (
	cacheSpace   = "c:"
	limiterSpace = "rl:"
)

func (in backendIn) prefix() string {
	if in.Config.Prefix != "" {
		return in.Config.Prefix
	}
	return in.Info.Name + ":"
}

func newCache(in backendIn) (Cache, error) {
	r, err := driver.UseRedis("cache.driver", in.Config.Driver, in.Client)
	if err != nil {
		return nil, err
	}
	name := "memory"
	if r {
		name = "redis"
	}
	m, err := backend.NewMetrics(in.Registerer, name)
	if err != nil {
		return nil, err
	}
	if r {
		return redis.New(in.Client, redis.Config{
			Prefix:         in.prefix() + cacheSpace,
			ClientSide:     in.Config.Redis.ClientSide,
			LocalTTL:       in.Config.Redis.LocalTTL,
			LoadTimeout:    in.Config.Redis.LoadTimeout,
			CommandTimeout: in.Redis.CommandTimeout,
			Metrics:        m,
		})
	}
	return memory.New(memory.Config{
		MaxEntries: in.Config.Memory.MaxEntries,
		MaxBytes:   in.Config.Memory.MaxBytes,
		Prefix:     in.prefix() + cacheSpace,
		Metrics:    m,
	})
}

func newLimiter(in backendIn) (Limiter, error) {
	r, err := driver.UseRedis("cache.rate_limit.driver", in.Config.RateLimit.Driver, in.Client)
	if err != nil {
		return nil, err
	}
	prefix := in.prefix() + limiterSpace
	if r {
		return redis.NewLimiter(in.Client, redis.LimiterConfig{Prefix: prefix, CommandTimeout: in.Redis.CommandTimeout})
	}
	return memory.NewLimiter(memory.LimiterConfig{MaxKeys: in.Config.RateLimit.MaxKeys, Prefix: prefix})
}

// RateLimits builds rate-limit middleware from the policies in
// cache.rate_limit.policies and from policies in code, all sharing the
// app's [Limiter] and its fail policy:
//
//	mw, err := limits.Middleware("login_ip", "login_burst")
//	httpx.Route{Method: "POST", Path: "/login", Handler: login, Middleware: []echo.MiddlewareFunc{mw}}
type RateLimits struct {
	limiter  Limiter
	cfg      RateLimitConfig
	log      *zap.Logger
	policies map[string]Policy
	down     *httpx.Unavailable // one ERROR per interval across all middleware
}

type rateLimitsIn struct {
	fx.In
	Config  Config
	Limiter Limiter
	Log     *zap.Logger
	Subject httpx.SubjectFunc `optional:"true"`
}

func newRateLimits(in rateLimitsIn) (*RateLimits, error) {
	return NewRateLimits(in.Limiter, in.Config.RateLimit, in.Subject, in.Log)
}

// NewRateLimits returns the configured policies over limiter. subject
// keys the "subject" policies; it may be nil only when none is
// configured.
func NewRateLimits(limiter Limiter, cfg RateLimitConfig, subject httpx.SubjectFunc, log *zap.Logger) (*RateLimits, error) {
	if log == nil {
		log = zap.NewNop()
	}
	r := &RateLimits{limiter: limiter, cfg: cfg, log: log, policies: map[string]Policy{},
		down: newLimiterUnavailable(log, cfg.FailPolicy == "fail_closed", cfg.ErrorLogInterval)}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(cfg.Policies)) {
		p := cfg.Policies[name]
		var key KeyFunc
		switch p.Key {
		case "ip":
			key = ByIP()
		case "route":
			key = ByRoute()
		case "subject":
			if subject == nil {
				errs = append(errs, fmt.Errorf("cache.rate_limit.policies.%s.key is subject, but nothing provides an httpx.SubjectFunc (the auth module does)", name))
				continue
			}
			key = BySubject(subject)
		default:
			errs = append(errs, fmt.Errorf("cache.rate_limit.policies.%s.key: unknown key %q", name, p.Key))
			continue
		}
		r.policies[name] = Policy{Name: name, Limit: p.limit(), Key: key}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// Middleware returns middleware enforcing the named configured policies;
// an unknown name is an error.
func (r *RateLimits) Middleware(names ...string) (echo.MiddlewareFunc, error) {
	ps := make([]Policy, 0, len(names))
	for _, n := range names {
		p, ok := r.policies[n]
		if !ok {
			return nil, fmt.Errorf("cache: no rate-limit policy %q in cache.rate_limit.policies", n)
		}
		ps = append(ps, p)
	}
	return r.Policies(ps...)
}

// Policies returns middleware enforcing policies defined in code, with
// the configured limiter and fail policy. Names share the limiter's key
// space with configured policies: reuse a name only to share its budget.
func (r *RateLimits) Policies(ps ...Policy) (echo.MiddlewareFunc, error) {
	if len(ps) == 0 {
		return nil, errors.New("cache: rate-limit middleware needs at least one policy")
	}
	return RateLimit(MiddlewareConfig{
		Limiter:          r.limiter,
		Policies:         ps,
		FailClosed:       r.cfg.FailPolicy == "fail_closed",
		ErrorLogInterval: r.cfg.ErrorLogInterval,
		Log:              r.log,
		Unavailable:      r.down,
	})
}

type globalIn struct {
	fx.In
	Config  Config
	HTTP    httpx.Config
	Observe observe.Config
	Limits  *RateLimits
}

// globalMiddleware applies cache.rate_limit.global to every route but the
// health probes and /metrics, which a limit keyed by IP would starve.
func globalMiddleware(in globalIn) ([]httpx.Middleware, error) {
	if len(in.Config.RateLimit.Global) == 0 {
		return nil, nil
	}
	mw, err := in.Limits.Middleware(in.Config.RateLimit.Global...)
	if err != nil {
		return nil, err
	}
	exempt := map[string]bool{
		in.HTTP.Health.LivePath: true, in.HTTP.Health.ReadyPath: true, in.Observe.Metrics.Path: true,
	}
	skip := func(next echo.HandlerFunc) echo.HandlerFunc {
		limited := mw(next)
		return func(c echo.Context) error {
			if exempt[c.Path()] {
				return next(c)
			}
			return limited(c)
		}
	}
	return []httpx.Middleware{{Name: "cache.rate_limit", Order: -100, Func: skip}}, nil
}

// newKeyLimiter offers the limiter to modules that limit events outside
// HTTP middleware (realtime's client publications), keyed under "k:" so
// that their keys never meet the policies'.
func newKeyLimiter(l Limiter) httpx.KeyLimiter {
	return func(ctx context.Context, key string, rate int, period time.Duration, burst int) (bool, error) {
		r, err := l.Allow(ctx, "k:"+key, Limit{Rate: rate, Period: period, Burst: burst})
		return r.Allowed, err
	}
}
