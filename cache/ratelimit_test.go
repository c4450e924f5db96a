package cache_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
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
	if !strings.Contains(rec.Body.String(), `"code":"`+httpx.CodeRateLimited+`"`) {
		t.Fatalf("a refused request's problem lacks the code %q: %s", httpx.CodeRateLimited, rec.Body)
	}
	if rec := get(e, "198.51.100.7:1"); rec.Code != 200 {
		t.Fatalf("another IP must have its own budget: %d", rec.Code)
	}
	clk.Add(time.Second)
	if rec := get(e, "203.0.113.5:1234"); rec.Code != 200 {
		t.Fatalf("after one interval: %d", rec.Code)
	}
}

// ByIP keys by echo's c.RealIP(), so the server's IPExtractor
// (httpx.ClientIP of http.trusted_proxies) decides whom to believe.
func TestByIPIsTheServersClientIP(t *testing.T) {
	t.Parallel()
	e := echo.New()
	key := func(remote, xff string) string {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = remote
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		k, _ := cache.ByIP()(e.NewContext(req, httptest.NewRecorder()))
		return k
	}
	for _, c := range []struct {
		trusted           []string
		remote, xff, want string
	}{
		{nil, "10.1.1.1:5", "1.2.3.4", "10.1.1.1"},
		{[]string{"10.0.0.0/8"}, "10.1.1.1:5", "1.2.3.4, 10.2.2.2", "1.2.3.4"},
		{[]string{"10.0.0.0/8"}, "192.0.2.9:5", "1.2.3.4", "192.0.2.9"},
		{nil, "[2001:db8:1:2:3::4]:5", "", "2001:db8:1:2::/64"},
	} {
		var err error
		if e.IPExtractor, err = httpx.ClientIP(c.trusted); err != nil {
			t.Fatal(err)
		}
		if got := key(c.remote, c.xff); got != c.want {
			t.Errorf("trusted %v, peer %s, X-Forwarded-For %q: key %s, want %s", c.trusted, c.remote, c.xff, got, c.want)
		}
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
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Content-Type") != httpx.ProblemContentType ||
		rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"code":"`+httpx.CodeUnavailable+`"`) {
		t.Fatalf("%d %v %s; want 503 with Retry-After and the code %q", rec.Code, rec.Header(), rec.Body, httpx.CodeUnavailable)
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

func serverLogging(t *testing.T, log *zap.Logger, mws ...echo.MiddlewareFunc) *echo.Echo {
	t.Helper()
	srv, err := httpx.New(httpx.Params{Config: httpx.DefaultConfig(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	for i, mw := range mws {
		srv.Echo.GET("/r"+fmt.Sprint(i), func(c echo.Context) error { return c.String(http.StatusOK, "ok") }, mw)
	}
	return srv.Echo
}

func do(e *echo.Echo, method, path, remote string) int {
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = remote
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec.Code
}

// One subscriber holds a whole IPv6 /64: its addresses share one budget.
func TestByIPKeysIPv6ByPrefix(t *testing.T) {
	t.Parallel()
	lim, _ := memory.NewLimiter(memory.LimiterConfig{})
	mw, err := cache.RateLimit(cache.MiddlewareConfig{Limiter: lim,
		Policies: []cache.Policy{{Name: "ip", Limit: cache.PerHour(1), Key: cache.ByIP()}}})
	if err != nil {
		t.Fatal(err)
	}
	e := server(t, mw)
	for _, tc := range []struct {
		remote string
		want   int
	}{
		{"[2001:db8:1:2::1]:1000", 200},
		{"[2001:db8:1:2:ffff::9]:1000", 429}, // same /64
		{"[2001:db8:1:3::1]:1000", 200},      // another /64
		{"192.0.2.1:1000", 200},
		{"192.0.2.2:1000", 200}, // IPv4 addresses stay apart
		{"[::ffff:192.0.2.1]:1000", 429},
	} {
		if rec := get(e, tc.remote); rec.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.remote, rec.Code, tc.want)
		}
	}
}

// ByRoute cannot be made to create keys with made-up methods, and HEAD
// spends GET's budget.
func TestByRouteNormalizesMethods(t *testing.T) {
	t.Parallel()
	lim, _ := memory.NewLimiter(memory.LimiterConfig{})
	mw, _ := cache.RateLimit(cache.MiddlewareConfig{Limiter: lim,
		Policies: []cache.Policy{{Name: "route", Limit: cache.PerHour(1), Key: cache.ByRoute()}}})
	srv, _ := httpx.New(httpx.Params{Config: httpx.DefaultConfig(), Log: zap.NewNop()})
	srv.Echo.Use(mw) // app-wide, so it also sees methods no route has
	srv.Echo.Any("/r", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	e := srv.Echo
	if c := do(e, http.MethodGet, "/r", "192.0.2.1:1"); c != 204 {
		t.Fatalf("first GET: %d", c)
	}
	if c := do(e, http.MethodHead, "/r", "192.0.2.1:1"); c != 429 {
		t.Errorf("HEAD after GET: %d, want 429 (one budget)", c)
	}
	if c := do(e, "FOO1", "/r", "192.0.2.1:1"); c != http.StatusMethodNotAllowed {
		t.Errorf("first made-up method: %d, want 405 (admitted, then refused by the router)", c)
	}
	if c := do(e, "BAR2", "/r", "192.0.2.1:1"); c != 429 {
		t.Errorf("second made-up method: %d, want 429 (made-up methods share one key)", c)
	}
}

func TestPolicyFasterThanAMicrosecondIsRejected(t *testing.T) {
	t.Parallel()
	lim, _ := memory.NewLimiter(memory.LimiterConfig{})
	_, err := cache.RateLimit(cache.MiddlewareConfig{Limiter: lim,
		Policies: []cache.Policy{{Name: "fast", Limit: cache.PerSecond(2_000_000), Key: cache.ByRoute()}}})
	if err == nil || !strings.Contains(err.Error(), "microsecond") {
		t.Fatalf("RateLimit with 2e6/s: %v", err)
	}
	cfg := cache.DefaultConfig()
	cfg.RateLimit.Policies = map[string]cache.PolicyConfig{"fast": {Rate: 2_000_000, Period: time.Second, Key: "ip"}}
	ps := cfg.Validate()
	if len(ps) != 1 || ps[0].Key != "rate_limit.policies.fast" {
		t.Fatalf("config problems %+v; want one for rate_limit.policies.fast", ps)
	}
}

// The fail-open ERROR is throttled across every middleware of one
// RateLimits, and fail_closed logs through the same throttle instead of
// one ERROR per refused request.
func TestFailureLogIsThrottledAcrossMiddleware(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{"fail_open", "fail_closed"} {
		core, logs := observer.New(zapcore.ErrorLevel)
		log := zap.New(core)
		cfg := cache.DefaultConfig().RateLimit
		cfg.FailPolicy = policy
		cfg.ErrorLogInterval = time.Hour
		cfg.Policies = map[string]cache.PolicyConfig{
			"a": {Rate: 1, Period: time.Second, Key: "ip"},
			"b": {Rate: 1, Period: time.Second, Key: "route"},
		}
		limits, err := cache.NewRateLimits(failing{}, cfg, nil, log)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := limits.Middleware("a")
		b, _ := limits.Middleware("b")
		e := serverLogging(t, log, a, b)
		want := 200
		if policy == "fail_closed" {
			want = http.StatusServiceUnavailable
		}
		for i := range 20 {
			if c := do(e, http.MethodGet, "/r"+fmt.Sprint(i%2), "203.0.113.5:1"); c != want {
				t.Fatalf("%s: %d, want %d", policy, c, want)
			}
		}
		if n := logs.Len(); n != 1 {
			for _, l := range logs.All() {
				t.Log(l.Message)
			}
			t.Fatalf("%s: %d ERROR lines for 20 failures over two middleware, want 1", policy, n)
		}
	}
}
