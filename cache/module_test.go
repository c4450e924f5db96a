package cache_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/rueidis"
	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/cache"
	"github.com/apexgo/apex/cache/memory"
	"github.com/apexgo/apex/cache/redis"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/internal/testservice"
)

func TestModuleFallsBackToMemory(t *testing.T) {
	t.Parallel()
	var (
		c cache.Cache
		l cache.Limiter
	)
	apptest.New(t, apex.Modules, apptest.With(fx.Populate(&c, &l)))
	if _, ok := c.(*memory.Cache); !ok {
		t.Fatalf("Cache is %T, want *memory.Cache without Redis", c)
	}
	if _, ok := l.(*memory.Limiter); !ok {
		t.Fatalf("Limiter is %T, want *memory.Limiter without Redis", l)
	}
	ctx := context.Background()
	if err := c.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Fatalf("Get = %q, %v", v, err)
	}
}

func TestModuleUsesRedisWhenConfigured(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	prefix := testservice.Unique("apextest") + ":"
	var (
		c      cache.Cache
		l      cache.Limiter
		client rueidis.Client
	)
	apptest.New(t, apex.Modules,
		apptest.Config(map[string]any{"redis.addr": addr, "cache.prefix": prefix, "cache.redis.client_side": true}),
		apptest.With(fx.Populate(&c, &l, &client)))
	if _, ok := c.(*redis.Cache); !ok {
		t.Fatalf("Cache is %T, want *redis.Cache", c)
	}
	if _, ok := l.(*redis.Limiter); !ok {
		t.Fatalf("Limiter is %T, want *redis.Limiter", l)
	}
	ctx := context.Background()
	t.Cleanup(func() { client.Do(context.Background(), client.B().Del().Key(prefix+"c:k").Build()) })
	if err := c.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := client.Do(ctx, client.B().Get().Key(prefix+"c:k").Build()).ToString()
	if err != nil || got != "v" {
		t.Fatalf("Redis GET %sc:k = %q, %v; the module must write under cache.prefix + c:", prefix, got, err)
	}
	r, err := l.Allow(ctx, "x", cache.PerMinute(1))
	if err != nil || !r.Allowed {
		t.Fatalf("Allow = %+v, %v", r, err)
	}
	t.Cleanup(func() { client.Do(context.Background(), client.B().Del().Key(prefix+"rl:x").Build()) })
	if n, err := client.Do(ctx, client.B().Exists().Key(prefix+"rl:x").Build()).AsInt64(); err != nil || n != 1 {
		t.Fatalf("limiter key %srl:x exists = %d, %v", prefix, n, err)
	}
}

func TestModuleDriverRedisWithoutRedisFails(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"cache.driver", "cache.rate_limit.driver"} {
		_, err := apptest.Start(t, apex.Modules, apptest.Config(map[string]any{key: "redis"}))
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "APP_REDIS__ADDR") {
			t.Errorf("%s=redis without Redis: start error %v; want one naming %s and APP_REDIS__ADDR", key, err, key)
		}
	}
}

func limitedRoute() fx.Option {
	return fx.Provide(httpx.AsRoute(func() httpx.Route {
		return httpx.Route{Method: http.MethodGet, Path: "/x", Handler: func(c echo.Context) error { return c.String(http.StatusOK, "ok") }}
	}))
}

func TestModuleGlobalPolicy(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules,
		apptest.Config(map[string]any{
			"cache.rate_limit.policies.per_ip": map[string]any{"rate": 2, "period": "1m", "key": "ip"},
			"cache.rate_limit.global":          []string{"per_ip"},
		}),
		apptest.With(limitedRoute()))
	for i := range 2 {
		r := a.Do(t, http.MethodGet, "/x", "")
		if r.StatusCode != http.StatusOK || r.Header.Get("RateLimit-Limit") != "2" {
			t.Fatalf("request %d: %d, RateLimit-Limit %q", i, r.StatusCode, r.Header.Get("RateLimit-Limit"))
		}
	}
	r := a.Do(t, http.MethodGet, "/x", "")
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("third request: %d, Retry-After %q; want 429 with Retry-After", r.StatusCode, r.Header.Get("Retry-After"))
	}
	for _, p := range []string{"/livez", "/readyz", "/metrics"} {
		if r := a.Do(t, http.MethodGet, p, ""); r.StatusCode != http.StatusOK {
			t.Errorf("%s under an exhausted global limit: %d; probes and metrics are exempt", p, r.StatusCode)
		}
	}
}

func TestModuleSubjectPolicy(t *testing.T) {
	t.Parallel()
	policies := map[string]any{"cache.rate_limit.policies.per_user": map[string]any{"rate": 1, "period": "1h", "key": "subject"}}
	// The auth module provides a SubjectFunc; these apps leave it out.
	noAuth := []fx.Option{apex.Without(apex.Auth)}
	_, err := apptest.Start(t, noAuth, apptest.Config(policies))
	if err == nil || !strings.Contains(err.Error(), "cache.rate_limit.policies.per_user.key") {
		t.Fatalf("a subject policy without a SubjectFunc: start error %v", err)
	}

	var limits *cache.RateLimits
	a := apptest.New(t, noAuth, apptest.Config(policies),
		apptest.With(
			fx.Supply(httpx.SubjectFunc(func(c echo.Context) string { return c.Request().Header.Get("X-User") })),
			fx.Populate(&limits),
			fx.Provide(httpx.AsRoute(func(l *cache.RateLimits) (httpx.Route, error) {
				mw, err := l.Middleware("per_user")
				return httpx.Route{Method: http.MethodGet, Path: "/me", Middleware: []echo.MiddlewareFunc{mw},
					Handler: func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }}, err
			}))))
	for _, tc := range []struct {
		user string
		want int
	}{{"ann", 204}, {"ann", 429}, {"bob", 204}, {"", 204}, {"", 204}} {
		if r := a.Do(t, http.MethodGet, "/me", "", "X-User", tc.user); r.StatusCode != tc.want {
			t.Errorf("user %q: %d, want %d", tc.user, r.StatusCode, tc.want)
		}
	}
	if _, err := limits.Middleware("per_user", "nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Middleware(unknown) = %v; want an error naming it", err)
	}
	if _, err := limits.Policies(); err == nil {
		t.Error("Policies() with no policy: no error")
	}
}

func TestModuleGlobalNamesUnknownPolicy(t *testing.T) {
	t.Parallel()
	_, err := apptest.Start(t, apex.Modules, apptest.Config(map[string]any{"cache.rate_limit.global": []string{"ghost"}}))
	if err == nil || !strings.Contains(err.Error(), "rate_limit.global") {
		t.Fatalf("global naming an undefined policy: %v", err)
	}
}

// A handler error from a Redis outage is a 503 problem with the code
// "unavailable", not a 500.
func TestModuleMapsUnavailableTo503(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules, apptest.With(fx.Provide(httpx.AsRoute(func() httpx.Route {
		return httpx.Route{Method: http.MethodGet, Path: "/profile", Handler: func(echo.Context) error {
			return fmt.Errorf("loading the profile: %w", cache.ErrUnavailable)
		}}
	}))))
	r := a.Do(t, http.MethodGet, "/profile", "")
	var body struct {
		Code string `json:"code"`
	}
	r.JSON(t, &body)
	if r.StatusCode != http.StatusServiceUnavailable || body.Code != httpx.CodeUnavailable {
		t.Fatalf("a handler returning cache.ErrUnavailable: %d %s; want 503 with code %q", r.StatusCode, r.Body, httpx.CodeUnavailable)
	}
}
