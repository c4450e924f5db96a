package cache_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/apexgo/apex/cache"
	"github.com/apexgo/apex/cache/memory"
	"github.com/apexgo/apex/httpx"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func server(t *testing.T, mw echo.MiddlewareFunc) *echo.Echo {
	t.Helper()
	srv, err := httpx.New(httpx.Params{Config: httpx.DefaultConfig(), Log: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Echo.GET("/r", func(c echo.Context) error { return c.String(http.StatusOK, "ok") }, mw)
	return srv.Echo
}

func get(e *echo.Echo, remote string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/r", nil)
	req.RemoteAddr = remote
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestRateLimitHeadersAnd429(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	lim, _ := memory.NewLimiter(memory.LimiterConfig{Now: clk.Now})
	mw, err := cache.RateLimit(cache.MiddlewareConfig{Limiter: lim, Policies: []cache.Policy{
		{Name: "ip", Limit: cache.Limit{Rate: 1, Period: time.Second, Burst: 2}, Key: cache.ByIP()},
	}})
	if err != nil {
		t.Fatal(err)
	}
	e := server(t, mw)
	for i, wantRemaining := range []string{"1", "0"} {
		rec := get(e, "203.0.113.5:1234")
		if rec.Code != 200 || rec.Header().Get("RateLimit-Remaining") != wantRemaining || rec.Header().Get("RateLimit-Limit") != "2" {
			t.Fatalf("request %d: %d %v", i, rec.Code, rec.Header())
		}
	}
	rec := get(e, "203.0.113.5:1234")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" || rec.Header().Get("Content-Type") != httpx.ProblemContentType {
		t.Fatalf("third request: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if rec := get(e, "198.51.100.7:1"); rec.Code != 200 {
		t.Fatalf("another IP must have its own budget: %d", rec.Code)
	}
	clk.Add(time.Second)
	if rec := get(e, "203.0.113.5:1234"); rec.Code != 200 {
		t.Fatalf("after one interval: %d", rec.Code)
	}
}

func TestByIPTrustsOnlyConfiguredProxies(t *testing.T) {
	t.Parallel()
	_, proxies, _ := net.ParseCIDR("10.0.0.0/8")
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	key := func(f cache.KeyFunc, remote, xff string) string {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = remote
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		c.SetRequest(req)
		k, _ := f(c)
		return k
	}
	untrusting := cache.ByIP()
	if got := key(untrusting, "10.1.1.1:5", "1.2.3.4"); got != "10.1.1.1" {
		t.Errorf("X-Forwarded-For believed without trusted proxies: %s", got)
	}
	if got := key(untrusting, "127.0.0.1:5", "1.2.3.4"); got != "127.0.0.1" {
		t.Errorf("loopback trusted by default: %s", got)
	}
	trusting := cache.ByIP(proxies)
	if got := key(trusting, "10.1.1.1:5", "1.2.3.4, 10.2.2.2"); got != "1.2.3.4" {
		t.Errorf("client behind trusted proxies: %s", got)
	}
	if got := key(trusting, "192.0.2.9:5", "1.2.3.4"); got != "192.0.2.9" {
		t.Errorf("X-Forwarded-For from an untrusted peer believed: %s", got)
	}
}

type failing struct{}

func (failing) Allow(context.Context, string, cache.Limit) (cache.Result, error) {
	return cache.Result{}, errors.New("redis: connection refused")
}

func TestFailOpenLogsOncePerInterval(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.ErrorLevel)
	mw, _ := cache.RateLimit(cache.MiddlewareConfig{Limiter: failing{}, Log: zap.New(core), ErrorLogInterval: time.Hour,
		Policies: []cache.Policy{{Name: "ip", Limit: cache.PerSecond(1), Key: cache.ByIP()}}})
	e := server(t, mw)
	for range 20 {
		if rec := get(e, "203.0.113.5:1"); rec.Code != 200 {
			t.Fatalf("fail_open refused: %d", rec.Code)
		}
	}
	if n := logs.Len(); n != 1 {
		t.Fatalf("%d ERROR lines for 20 failures, want 1", n)
	}
}

func TestFailClosedAnswers503(t *testing.T) {
	t.Parallel()
	mw, _ := cache.RateLimit(cache.MiddlewareConfig{Limiter: failing{}, FailClosed: true,
		Policies: []cache.Policy{{Name: "ip", Limit: cache.PerSecond(1), Key: cache.ByIP()}}})
	rec := get(server(t, mw), "203.0.113.5:1")
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Content-Type") != httpx.ProblemContentType {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestSeveralPoliciesMostConstrainedWins(t *testing.T) {
	t.Parallel()
	lim, _ := memory.NewLimiter(memory.LimiterConfig{})
	mw, _ := cache.RateLimit(cache.MiddlewareConfig{Limiter: lim, Policies: []cache.Policy{
		{Name: "route", Limit: cache.Limit{Rate: 100, Period: time.Minute, Burst: 100}, Key: cache.ByRoute()},
		{Name: "user", Limit: cache.Limit{Rate: 1, Period: time.Minute, Burst: 1}, Key: cache.BySubject(func(c echo.Context) string {
			return c.Request().Header.Get("X-User")
		})},
	}})
	e := server(t, mw)
	if rec := get(e, "1.1.1.1:1", "X-User", "ann"); rec.Code != 200 || rec.Header().Get("RateLimit-Limit") != "1" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	if rec := get(e, "1.1.1.1:1", "X-User", "ann"); rec.Code != 429 {
		t.Fatalf("user policy not enforced: %d", rec.Code)
	}
	if rec := get(e, "1.1.1.1:1"); rec.Code != 200 || rec.Header().Get("RateLimit-Limit") != "100" {
		t.Fatalf("anonymous request limited by the user policy: %d %v", rec.Code, rec.Header())
	}
}

func TestRateLimitRejectsBadPolicies(t *testing.T) {
	t.Parallel()
	lim, _ := memory.NewLimiter(memory.LimiterConfig{})
	for _, p := range []cache.Policy{{Name: "", Limit: cache.PerSecond(1), Key: cache.ByRoute()}, {Name: "x", Key: cache.ByRoute()}, {Name: "x", Limit: cache.PerSecond(1)}} {
		if _, err := cache.RateLimit(cache.MiddlewareConfig{Limiter: lim, Policies: []cache.Policy{p}}); err == nil {
			t.Errorf("policy %+v accepted", p)
		}
	}
}
