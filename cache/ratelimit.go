package cache

import (
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/apexgo/apex/httpx"
)

// KeyFunc names the subject of a request for one rate-limit policy; false
// means the policy does not apply to this request (no subject known).
type KeyFunc func(c echo.Context) (string, bool)

// Policy is one limit on one kind of key.
type Policy struct {
	// Name separates policies in the limiter's key space and in logs;
	// required.
	Name string
	// Limit is the rate and burst allowed per key; required, at most one
	// event per microsecond.
	Limit Limit
	// Key names what the limit counts per (ByIP, BySubject, ByRoute or
	// your own); required.
	Key KeyFunc
}

// ByIP keys requests by client IP, echo's c.RealIP(): on apex's server,
// the TCP peer's address, or the client named by X-Forwarded-For when the
// peer is one of http.trusted_proxies (see httpx.ClientIP). An IPv6
// address counts as its /64.
func ByIP() KeyFunc { return byIP }

func byIP(c echo.Context) (string, bool) {
	ip := c.RealIP()
	return ipKey(ip), ip != ""
}

// ipKey is an IPv4 address as it is, and an IPv6 address as its /64: one
// subscriber usually holds a whole /64, so keying by full address would
// give them 2^64 budgets.
func ipKey(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return s
	}
	return p.String()
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
// per endpoint, whoever calls it. HEAD shares GET's budget, and methods
// outside the standard ones share one key, so made-up methods cannot
// create keys.
func ByRoute() KeyFunc {
	return func(c echo.Context) (string, bool) {
		return routeMethod(c.Request().Method) + " " + c.Path(), true
	}
}

func routeMethod(m string) string {
	switch m {
	case http.MethodHead:
		return http.MethodGet
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// MiddlewareConfig configures [RateLimit].
type MiddlewareConfig struct {
	// Limiter decides; required.
	Limiter Limiter
	// Policies are all checked, and all consume, on each request.
	// Default none (the middleware only passes requests on).
	Policies []Policy
	// FailClosed answers 503 when the limiter fails; by default (false,
	// fail open) requests pass. Either way an ERROR is logged, at most
	// once per ErrorLogInterval, so that an alert fires without flooding.
	FailClosed bool
	// ErrorLogInterval is the least time between two ERROR lines about a
	// failing limiter. Default [DefaultErrorLogInterval] (1m).
	ErrorLogInterval time.Duration
	// Log receives those ERROR lines. Default: no logging.
	Log *zap.Logger

	// Unavailable, when set, answers and logs limiter failures instead of
	// one built from Log and ErrorLogInterval; [RateLimits] shares one
	// between all its middleware, so the interval holds across them.
	// Default nil.
	Unavailable *httpx.Unavailable
}

// validLimit reports what is wrong with l for the limiters, "" if nothing.
func validLimit(l Limit) string {
	switch {
	case !l.Valid():
		return "needs rate, period and burst of at least 1"
	case l.Interval() < time.Microsecond:
		return "allows more than one event per microsecond"
	case l.Burst > math.MaxInt64/int(l.Interval()):
		return "has a burst times interval beyond what a time can hold"
	}
	return ""
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
		if p.Name == "" || p.Key == nil {
			return nil, fmt.Errorf("cache: rate-limit policy %q needs a name and a key function", p.Name)
		}
		if msg := validLimit(p.Limit); msg != "" {
			return nil, fmt.Errorf("cache: rate-limit policy %q %s", p.Name, msg)
		}
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.ErrorLogInterval <= 0 {
		cfg.ErrorLogInterval = DefaultErrorLogInterval
	}
	down := cfg.Unavailable
	if down == nil {
		down = newLimiterUnavailable(cfg.Log, cfg.FailClosed, cfg.ErrorLogInterval)
	}
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
						return down.Problem(ctx, err, zap.String("policy", p.Name))
					}
					down.Log(ctx, err, zap.String("policy", p.Name))
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
				p.Code = httpx.CodeRateLimited
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

// newLimiterUnavailable returns the answer to a failing limiter, its
// ERROR line saying which fail policy applies.
func newLimiterUnavailable(log *zap.Logger, failClosed bool, interval time.Duration) *httpx.Unavailable {
	policy := "letting requests through (fail_open)"
	if failClosed {
		policy = "refusing requests with 503 (fail_closed)"
	}
	return httpx.NewUnavailable(httpx.UnavailableParams{
		Log: log, Message: "rate limiter failed; " + policy, Detail: "rate limiting is unavailable", Interval: interval,
	})
}
