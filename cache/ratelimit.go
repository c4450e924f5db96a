package cache

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/observe"
)

// KeyFunc names the subject of a request for one rate-limit policy; false
// means the policy does not apply to this request (no subject known).
type KeyFunc func(c echo.Context) (string, bool)

// Policy is one limit on one kind of key.
type Policy struct {
	// Name separates policies in the limiter's key space and in logs.
	Name  string
	Limit Limit
	Key   KeyFunc
}

// ByIP keys requests by client IP. X-Forwarded-For is believed only from
// the trusted proxies (none by default): the client is the rightmost
// address not in them. Loopback and private ranges are not trusted unless
// listed.
func ByIP(trusted ...*net.IPNet) KeyFunc {
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	extract := echo.ExtractIPFromXFFHeader(opts...)
	return func(c echo.Context) (string, bool) {
		ip := extract(c.Request())
		return ip, ip != ""
	}
}

// BySubject keys requests by the authenticated subject that subject
// returns; requests without one ("") are not limited by this policy.
func BySubject(subject func(c echo.Context) string) KeyFunc {
	return func(c echo.Context) (string, bool) {
		s := subject(c)
		return s, s != ""
	}
}

// ByRoute keys requests by method and route template: one shared budget
// per endpoint, whoever calls it.
func ByRoute() KeyFunc {
	return func(c echo.Context) (string, bool) {
		return c.Request().Method + " " + c.Path(), true
	}
}

// MiddlewareConfig configures [RateLimit].
type MiddlewareConfig struct {
	Limiter  Limiter
	Policies []Policy
	// FailClosed answers 503 when the limiter fails; by default (fail
	// open) requests pass and an ERROR is logged, at most once per
	// ErrorLogInterval, so that an alert fires without flooding.
	FailClosed       bool
	ErrorLogInterval time.Duration
	Log              *zap.Logger
}

// RateLimit returns middleware that checks every policy for each request.
// Responses carry RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset
// for the most constrained policy; a refused request gets a 429 problem
// with Retry-After.
func RateLimit(cfg MiddlewareConfig) (echo.MiddlewareFunc, error) {
	if cfg.Limiter == nil {
		return nil, fmt.Errorf("cache: RateLimit needs a Limiter")
	}
	for _, p := range cfg.Policies {
		if p.Name == "" || p.Key == nil || !p.Limit.Valid() {
			return nil, fmt.Errorf("cache: rate-limit policy %q needs a name, a key function and a valid limit", p.Name)
		}
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.ErrorLogInterval <= 0 {
		cfg.ErrorLogInterval = time.Minute
	}
	var lastLog atomic.Int64
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx := c.Request().Context()
			var (
				worst    Result
				worstLim Limit
				have     bool
				denied   bool
				retry    time.Duration
			)
			for _, p := range cfg.Policies {
				key, ok := p.Key(c)
				if !ok {
					continue
				}
				r, err := cfg.Limiter.Allow(ctx, p.Name+":"+key, p.Limit)
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					if cfg.FailClosed {
						p := httpx.NewProblem(http.StatusServiceUnavailable, "rate limiting is unavailable")
						p.Err = err
						p.Header = http.Header{"Retry-After": {"1"}}
						return p
					}
					now := time.Now().UnixNano()
					if last := lastLog.Load(); now-last >= int64(cfg.ErrorLogInterval) && lastLog.CompareAndSwap(last, now) {
						cfg.Log.Error("rate limiter failed; letting requests through (fail_open)",
							zap.Error(err), zap.String("policy", p.Name), zap.String("request_id", observe.RequestID(ctx)))
					}
					continue
				}
				if !r.Allowed {
					denied = true
					retry = max(retry, r.RetryAfter)
				}
				if !have || r.Remaining < worst.Remaining || (!r.Allowed && worst.Allowed) {
					worst, worstLim, have = r, p.Limit, true
				}
			}
			if have {
				h := c.Response().Header()
				h.Set("RateLimit-Limit", strconv.Itoa(worstLim.Burst))
				h.Set("RateLimit-Remaining", strconv.Itoa(worst.Remaining))
				h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(worst.ResetAfter)))
			}
			if denied {
				p := httpx.NewProblem(http.StatusTooManyRequests, "rate limit exceeded; retry later")
				p.Header = http.Header{"Retry-After": {strconv.Itoa(max(ceilSeconds(retry), 1))}}
				return p
			}
			return next(c)
		}
	}, nil
}

func ceilSeconds(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}
