package httpx_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/observe"
)

var errOrderNotFound = errors.New("order not found")

type createOrder struct {
	SKU      string `json:"sku" validate:"required,alphanum"`
	Quantity int    `json:"quantity" validate:"min=1,max=100"`
	Email    string `json:"email" validate:"omitempty,email"`
}

// testRoutes is a small API exercising every error path.
func testRoutes() fx.Option {
	return fx.Options(
		httpx.MapError(errOrderNotFound, http.StatusNotFound),
		fx.Provide(httpx.AsGroup(func() httpx.Group {
			return httpx.Group{Prefix: "/orders", Routes: []httpx.Route{
				{Method: http.MethodPost, Path: "", Handler: func(c echo.Context) error {
					var in createOrder
					if err := httpx.Bind(c, &in); err != nil {
						return err
					}
					return c.JSON(http.StatusCreated, in)
				}},
				{Method: http.MethodGet, Path: "/:id", Handler: func(c echo.Context) error {
					if c.Param("id") != "1" {
						return fmt.Errorf("load %s: %w", c.Param("id"), errOrderNotFound)
					}
					return c.JSON(http.StatusOK, map[string]string{"id": "1"})
				}},
			}}
		})),
		fx.Provide(httpx.AsRoute(func() httpx.Route {
			return httpx.Route{Method: http.MethodGet, Path: "/boom", Handler: func(c echo.Context) error {
				panic("secret internals")
			}}
		})),
		fx.Invoke(func(e *echo.Echo) {
			e.GET("/fail", func(c echo.Context) error { return errors.New("db password=hunter2 rejected") })
			e.GET("/slow", func(c echo.Context) error {
				select {
				case <-time.After(time.Minute):
					return c.String(http.StatusOK, "late")
				case <-c.Request().Context().Done():
					return c.Request().Context().Err()
				}
			})
			e.GET("/big", func(c echo.Context) error { return c.String(http.StatusOK, strings.Repeat("apex ", 1000)) })
			e.GET("/ctx", func(c echo.Context) error {
				observe.Logger(c.Request().Context()).Info("inside handler")
				return c.NoContent(http.StatusNoContent)
			})
		}),
	)
}

func problemOf(t *testing.T, r apptest.Response) httpx.Problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != httpx.ProblemContentType {
		t.Fatalf("content type %q, body %s", ct, r.Body)
	}
	var p httpx.Problem
	r.JSON(t, &p)
	if p.Status != r.StatusCode || p.Title == "" || p.Type == "" || p.RequestID == "" || p.RequestID != r.Header.Get("X-Request-ID") {
		t.Fatalf("incomplete problem %+v for status %d", p, r.StatusCode)
	}
	return p
}

func TestProblemDetailsForEveryErrorPath(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules, apptest.With(testRoutes()), apptest.Config(map[string]any{"http.timeout.duration": "2s", "http.body_limit.max": "1K"}))

	cases := []struct {
		name, method, path, body string
		status                   int
	}{
		{"unknown route", http.MethodGet, "/nope", "", 404},
		{"wrong method", http.MethodDelete, "/orders/1", "", 405},
		{"domain not found", http.MethodGet, "/orders/2", "", 404},
		{"malformed body", http.MethodPost, "/orders", `{"sku":`, 400},
		{"invalid fields", http.MethodPost, "/orders", `{"sku":"a-b","quantity":0,"email":"x"}`, 422},
		{"body too large", http.MethodPost, "/orders", `{"sku":"` + strings.Repeat("a", 2000) + `"}`, 413},
		{"handler error", http.MethodGet, "/fail", "", 500},
		{"panic", http.MethodGet, "/boom", "", 500},
		{"timeout", http.MethodGet, "/slow", "", 503},
	}
	for _, c := range cases {
		r := a.Do(t, c.method, c.path, c.body)
		if r.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, r.StatusCode, c.status, r.Body)
			continue
		}
		p := problemOf(t, r)
		switch c.name {
		case "domain not found":
			if !strings.Contains(p.Detail, "order not found") {
				t.Errorf("domain error detail: %q", p.Detail)
			}
		case "invalid fields":
			got := map[string]string{}
			for _, f := range p.Errors {
				got[f.Field] = f.Message
			}
			for _, f := range []string{"sku", "quantity", "email"} {
				if got[f] == "" {
					t.Errorf("422 lacks field %q: %+v", f, p.Errors)
				}
			}
		case "handler error", "panic":
			if strings.Contains(string(r.Body), "hunter2") || strings.Contains(string(r.Body), "secret internals") {
				t.Errorf("%s: internals leaked: %s", c.name, r.Body)
			}
		case "timeout":
			if r.Header.Get("Retry-After") == "" {
				t.Error("timeout without Retry-After")
			}
		}
	}

	// 5xx are logged at ERROR (and so alert); 4xx are not.
	errs := a.Logs.FilterLevelExact(zap.ErrorLevel).All()
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Message)
	}
	joined := strings.Join(msgs, "|")
	if !strings.Contains(joined, "request failed") || !strings.Contains(joined, "panic recovered in HTTP handler") {
		t.Errorf("5xx not logged at ERROR: %v", msgs)
	}
	for _, e := range errs {
		if s, ok := e.ContextMap()["status"].(int64); ok && s < 500 {
			t.Errorf("4xx logged at ERROR: %v", e.ContextMap())
		}
	}
	// A panic still gets an access log line.
	found := false
	for _, e := range a.Logs.FilterMessage("request").All() {
		if e.ContextMap()["route"] == "/boom" && e.ContextMap()["status"] == int64(500) {
			found = true
		}
	}
	if !found {
		t.Error("no access log line for the panicking request")
	}
}

func TestHeadGetsNoProblemBody(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules)
	r := a.Do(t, http.MethodHead, "/nope", "")
	if r.StatusCode != 404 || len(r.Body) != 0 {
		t.Fatalf("HEAD: %d %q", r.StatusCode, r.Body)
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules, apptest.With(testRoutes()))
	r := a.Do(t, http.MethodGet, "/ctx", "", "X-Request-ID", "client-id-123")
	if got := r.Header.Get("X-Request-ID"); got != "client-id-123" {
		t.Fatalf("sane client ID not kept: %q", got)
	}
	e := a.WaitForLog(t, "inside handler", time.Second)
	if e.ContextMap()["request_id"] != "client-id-123" {
		t.Fatalf("handler log lacks request_id: %v", e.ContextMap())
	}
	for _, bad := range []string{strings.Repeat("x", 65), "has space", "tab\there", "ünï"} {
		r := a.Do(t, http.MethodGet, "/ctx", "", "X-Request-ID", bad)
		got := r.Header.Get("X-Request-ID")
		if got == bad || len(got) != 32 {
			t.Errorf("insane ID %q: got %q, want a generated one", bad, got)
		}
	}
	if got := a.Do(t, http.MethodGet, "/ctx", "").Header.Get("X-Request-ID"); len(got) != 32 {
		t.Errorf("generated ID %q", got)
	}
}

func TestAccessLogNeverLogsCredentials(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules, apptest.With(testRoutes()))
	a.Do(t, http.MethodGet, "/orders/1?token=query-secret", "", "Authorization", "Bearer tok-secret", "Cookie", "session=cookie-secret")
	a.Do(t, http.MethodGet, "/fail", "", "Authorization", "Bearer tok-secret")
	e := a.WaitForLog(t, "request", time.Second)
	m := e.ContextMap()
	for _, k := range []string{"method", "route", "status", "bytes", "latency", "request_id"} {
		if _, ok := m[k]; !ok {
			t.Errorf("access log lacks %s: %v", k, m)
		}
	}
	if m["route"] != "/orders/:id" {
		t.Errorf("route template: %v", m["route"])
	}
	for _, l := range a.LogLines() {
		for _, s := range []string{"tok-secret", "cookie-secret", "query-secret"} {
			if strings.Contains(l, s) {
				t.Fatalf("credential %q in log: %s", s, l)
			}
		}
	}
}

func TestMetricsOnMainServer(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules, apptest.With(testRoutes()))
	a.Do(t, http.MethodGet, "/orders/1", "")
	a.Do(t, http.MethodGet, "/orders/2", "")
	for range 3 {
		a.Do(t, http.MethodGet, "/random-"+time.Now().String(), "")
	}
	r := a.Do(t, http.MethodGet, "/metrics", "")
	body := string(r.Body)
	for _, want := range []string{
		`http_requests_total{method="GET",route="/orders/:id",status="200"} 1`,
		`http_requests_total{method="GET",route="/orders/:id",status="404"} 1`,
		`http_request_duration_seconds_bucket{method="GET",route="/orders/:id"`,
		"go_goroutines", "process_resident_memory_bytes", "apex_alerts_dropped_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "/random-") {
		t.Error("unmatched paths became label values")
	}
	if a.Do(t, http.MethodGet, "/debug/pprof/", "").StatusCode != 404 {
		t.Error("pprof served on the public listener")
	}
}

func TestAdminListenerTakesMetricsAndPprof(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	a := apptest.New(t, apex.Modules, apptest.Config(map[string]any{"observe.admin.addr": port, "observe.admin.pprof": true}))
	if r := a.Do(t, http.MethodGet, "/metrics", ""); r.StatusCode != 404 {
		t.Fatalf("metrics still on the main server: %d", r.StatusCode)
	}
	for _, path := range []string{"/metrics", "/debug/pprof/"} {
		resp, err := http.Get("http://" + port + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("admin %s: %d", path, resp.StatusCode)
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestPortInUseIsStartError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = apptest.Start(t, apex.Modules, apptest.Config(map[string]any{"http.addr": ln.Addr().String()}))
	if err == nil || !strings.Contains(err.Error(), "http.addr") || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("want a start error naming http.addr and the address, got %v", err)
	}
}

func TestDuplicateRouteIsStartError(t *testing.T) {
	t.Parallel()
	r := func() httpx.Route {
		return httpx.Route{Method: http.MethodGet, Path: "/x", Handler: func(c echo.Context) error { return nil }}
	}
	_, err := apptest.Start(t, apex.Modules, apptest.With(fx.Provide(httpx.AsRoute(r), httpx.AsRoute(r))))
	if err == nil || !strings.Contains(err.Error(), "GET /x is registered twice") {
		t.Fatalf("got %v", err)
	}
	_, err = apptest.Start(t, apex.Modules, apptest.With(fx.Provide(httpx.AsRoute(func() httpx.Route { return httpx.Route{Method: "GET", Path: "/y"} }))))
	if err == nil || !strings.Contains(err.Error(), "no handler") {
		t.Fatalf("got %v", err)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	a := apptest.New(t, apex.Modules,
		apptest.Config(map[string]any{"http.health.timeout": "100ms"}),
		apptest.With(fx.Provide(
			httpx.AsHealthCheck(func() httpx.HealthCheck {
				return httpx.CheckFunc("ok", func(context.Context) error { return nil })
			}),
			httpx.AsHealthCheck(func() httpx.HealthCheck {
				return httpx.CheckFunc("stuck", func(context.Context) error { <-hang; return nil })
			}),
		)),
	)
	if r := a.Do(t, http.MethodGet, "/livez", ""); r.StatusCode != 200 {
		t.Fatalf("livez %d", r.StatusCode)
	}
	start := time.Now()
	r := a.Do(t, http.MethodGet, "/readyz", "")
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("readyz waited %v for a stuck check", took)
	}
	var rep httpx.Report
	r.JSON(t, &rep)
	if r.StatusCode != 503 || rep.Status != "fail" || rep.Checks["ok"].Status != "ok" || rep.Checks["stuck"].Status != "fail" || rep.Checks["stuck"].Error != "" {
		t.Fatalf("readyz %d %s", r.StatusCode, r.Body)
	}
}

func TestGracefulShutdownDrainsInFlight(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	a := apptest.New(t, apex.Modules, apptest.With(fx.Invoke(func(e *echo.Echo) {
		e.GET("/work", func(c echo.Context) error {
			close(entered)
			time.Sleep(500 * time.Millisecond)
			return c.String(http.StatusOK, "done")
		})
	})))
	var (
		wg   sync.WaitGroup
		resp apptest.Response
	)
	wg.Go(func() { resp = a.Do(t, http.MethodGet, "/work", "") })
	<-entered
	stopErr := make(chan error, 1)
	go func() { stopErr <- a.Stop() }()
	// While draining, readiness fails and new connections are refused soon.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		r, err := http.Get(a.URL + "/readyz")
		if err != nil {
			break // listener closed: fine, also not ready
		}
		r.Body.Close()
		if r.StatusCode == 503 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	if resp.StatusCode != 200 || string(resp.Body) != "done" {
		t.Fatalf("in-flight request cut off: %d %q", resp.StatusCode, resp.Body)
	}
	if err := <-stopErr; err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := http.Get(a.URL + "/livez"); err == nil {
		t.Fatal("server still accepting after stop")
	}
}

func TestShutdownTimeoutCutsOffSlowRequest(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	a := apptest.New(t, apex.Modules, apptest.Config(map[string]any{"http.shutdown_timeout": "100ms"}), apptest.With(fx.Invoke(func(e *echo.Echo) {
		e.GET("/forever", func(c echo.Context) error {
			close(entered)
			time.Sleep(3 * time.Second)
			return nil
		})
	})))
	go func() { _, _ = http.Get(a.URL + "/forever") }()
	<-entered
	start := time.Now()
	err := a.Stop()
	if err == nil || !strings.Contains(err.Error(), "http.shutdown_timeout") {
		t.Fatalf("want an error naming http.shutdown_timeout, got %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("stop took %v", took)
	}
}

func TestSecurityHeadersCORSAndGzip(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules, apptest.With(testRoutes()), apptest.Config(map[string]any{"http.cors.allow_origins": "https://app.example"}))
	r := a.Do(t, http.MethodGet, "/orders/1", "", "Origin", "https://app.example")
	for h, want := range map[string]string{
		"X-Content-Type-Options":      "nosniff",
		"X-Frame-Options":             "DENY",
		"Referrer-Policy":             "no-referrer",
		"Access-Control-Allow-Origin": "https://app.example",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if r.Header.Get("Content-Security-Policy") == "" {
		t.Error("no CSP")
	}
	if r := a.Do(t, http.MethodGet, "/orders/1", "", "Origin", "https://evil.example"); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS allowed an unknown origin")
	}

	req, _ := http.NewRequest(http.MethodGet, a.URL+"/big", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("large response not gzipped: %v", resp.Header)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	if len(b) != 5000 {
		t.Fatalf("gunzipped %d bytes", len(b))
	}
}

func TestCORSOffByDefault(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules, apptest.With(testRoutes()))
	r := a.Do(t, http.MethodGet, "/orders/1", "", "Origin", "https://app.example")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS on without configured origins")
	}
}

func TestTracingFollowsTraceparent(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules, apptest.With(testRoutes()))
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	a.Do(t, http.MethodGet, "/orders/1", "", "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	spans := a.Spans()
	if len(spans) == 0 {
		t.Fatal("no span")
	}
	s := spans[len(spans)-1]
	if s.Name != "GET /orders/:id" || s.SpanContext.TraceID().String() != traceID {
		t.Fatalf("span %q in trace %s", s.Name, s.SpanContext.TraceID())
	}
	e := a.WaitForLog(t, "request", time.Second)
	if e.ContextMap()["trace_id"] != traceID {
		t.Fatalf("access log trace_id: %v", e.ContextMap())
	}
}

func TestTogglesTurnMiddlewareOff(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules, apptest.With(testRoutes()), apptest.Config(map[string]any{
		"http.request_id.enabled": false, "http.access_log.enabled": false, "http.security_headers.enabled": false,
		"http.metrics.enabled": false, "http.gzip.enabled": false,
	}))
	r := a.Do(t, http.MethodGet, "/big", "", "Accept-Encoding", "gzip")
	if r.Header.Get("X-Request-ID") != "" || r.Header.Get("X-Frame-Options") != "" || r.Header.Get("Content-Encoding") != "" {
		t.Fatalf("middleware still on: %v", r.Header)
	}
	if len(a.Logs.FilterMessage("request").All()) != 0 {
		t.Fatal("access log still on")
	}
	if strings.Contains(string(a.Do(t, http.MethodGet, "/metrics", "").Body), "http_requests_total") {
		t.Fatal("HTTP metrics still on")
	}
}

func TestWithoutHTTP(t *testing.T) {
	t.Parallel()
	var srv *httpx.Server
	a := apptest.New(t, []fx.Option{apex.Without(apex.HTTP)}, apptest.With(fx.Invoke(func(p struct {
		fx.In
		S *httpx.Server `optional:"true"`
	}) {
		srv = p.S
	})))
	if srv != nil || a.URL != "" {
		t.Fatal("HTTP server present after apex.Without(apex.HTTP)")
	}
	var cfg struct{}
	_ = json.Unmarshal([]byte("{}"), &cfg)
}

func TestValidatorUsesJSONNames(t *testing.T) {
	t.Parallel()
	type item struct {
		Name string `json:"name" validate:"required"`
	}
	type order struct {
		Items []item `json:"items" validate:"required,dive"`
	}
	err := httpx.NewValidator().Validate(order{Items: []item{{Name: "a"}, {}}})
	var ve *httpx.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != "items[1].name" || ve.Fields[0].Message != "is required" {
		t.Fatalf("got %#v", err)
	}
}

// The server listens before later modules have started; /readyz says
// "starting" until every start hook has run.
func TestReadyOnlyAfterWholeAppStarted(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	readyDuringStart := make(chan int, 1)
	var srv *httpx.Server
	type started struct {
		a   *apptest.App
		err error
	}
	done := make(chan started, 1)
	go func() {
		a, err := apptest.Start(t, apex.Modules, apptest.With(
			fx.Populate(&srv),
			fx.Invoke(func(lc fx.Lifecycle, s *httpx.Server) {
				lc.Append(fx.StartHook(func() {
					resp, err := http.Get("http://" + s.Addr().String() + "/readyz")
					if err == nil {
						resp.Body.Close()
						readyDuringStart <- resp.StatusCode
					} else {
						readyDuringStart <- -1
					}
					<-release
				}))
			}),
		))
		done <- started{a, err}
	}()
	if code := <-readyDuringStart; code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz during start: %d, want 503", code)
	}
	close(release)
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	a := res.a
	if r := a.Do(t, http.MethodGet, "/readyz", ""); r.StatusCode != 200 {
		t.Fatalf("/readyz after start: %d %s", r.StatusCode, r.Body)
	}
}

// Without an exporter nothing records spans, but an incoming trace ID
// still reaches the logs.
func TestNoopTracingKeepsIncomingTraceID(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules, apptest.With(testRoutes(), fx.Decorate(func() trace.TracerProvider { return noop.NewTracerProvider() })))
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	a.Do(t, http.MethodGet, "/ctx", "", "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	e := a.WaitForLog(t, "inside handler", time.Second)
	if e.ContextMap()["trace_id"] != traceID {
		t.Fatalf("handler log: %v", e.ContextMap())
	}
}

// A body without Content-Length is cut at the limit while it is read.
func TestChunkedBodyOverLimit(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules, apptest.With(testRoutes()), apptest.Config(map[string]any{"http.body_limit.max": "1K"}))
	body := io.MultiReader(strings.NewReader(`{"sku":"`), strings.NewReader(strings.Repeat("a", 4000)), strings.NewReader(`"}`))
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/orders", body)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || req.ContentLength != -1 && req.ContentLength != 0 {
		t.Fatalf("status %d (content length %d)", resp.StatusCode, req.ContentLength)
	}
}

// Handlers in flight finish while what they use is still open: the server
// drains before any other stop hook, whatever order the hooks were
// registered in.
func TestServerDrainsBeforeDependenciesStop(t *testing.T) {
	t.Parallel()
	type db struct{ closed atomic.Bool }
	entered := make(chan struct{})
	var usedClosed atomic.Bool
	a := apptest.New(t, apex.Modules, apptest.With(
		fx.Provide(func(lc fx.Lifecycle) *db {
			d := &db{}
			lc.Append(fx.StopHook(func() { d.closed.Store(true) }))
			return d
		}),
		fx.Invoke(func(e *echo.Echo, d *db) {
			e.GET("/use-db", func(c echo.Context) error {
				close(entered)
				time.Sleep(300 * time.Millisecond)
				usedClosed.Store(d.closed.Load())
				return c.NoContent(http.StatusNoContent)
			})
		}),
	))
	done := make(chan int, 1)
	go func() {
		resp, err := http.Get(a.URL + "/use-db")
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-entered
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != http.StatusNoContent || usedClosed.Load() {
		t.Fatalf("status %d, dependency closed under the request: %v", code, usedClosed.Load())
	}
}

// An error that matches two mappings gets the one nearest the outside of
// its chain, every time.
func TestErrorMappingIsDeterministic(t *testing.T) {
	t.Parallel()
	errConflict := errors.New("conflict")
	errMissing := errors.New("missing")
	for range 10 {
		a := apptest.New(t, apex.Modules, apptest.With(
			httpx.MapError(errMissing, http.StatusNotFound),
			httpx.MapError(errConflict, http.StatusConflict),
			fx.Invoke(func(e *echo.Echo) {
				e.GET("/x", func(c echo.Context) error {
					return fmt.Errorf("save: %w", fmt.Errorf("%w: %w", errConflict, errMissing))
				})
			}),
		))
		if r := a.Do(t, http.MethodGet, "/x", ""); r.StatusCode != http.StatusConflict {
			t.Fatalf("got %d, want 409", r.StatusCode)
		}
	}
}

// A client that goes away is no server error: no ERROR line, no alert.
func TestClientCancelIsNotAnError(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	a := apptest.New(t, apex.Modules, apptest.With(fx.Invoke(func(e *echo.Echo) {
		e.GET("/wait", func(c echo.Context) error {
			close(entered)
			<-c.Request().Context().Done()
			return c.Request().Context().Err()
		})
	})))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/wait", nil)
	go func() { <-entered; cancel() }()
	if _, err := a.Client.Do(req); err == nil {
		t.Fatal("request should have been canceled")
	}
	e := a.WaitForLog(t, "request", 2*time.Second)
	if e.ContextMap()["status"] != int64(httpx.StatusClientClosedRequest) {
		t.Fatalf("access log: %v", e.ContextMap())
	}
	if n := a.Logs.FilterLevelExact(zap.ErrorLevel).Len(); n != 0 {
		t.Fatalf("%d ERROR lines for a client cancel", n)
	}
}

// Probes never pile up goroutines behind a check that ignores its context.
// Not parallel: it counts the process's goroutines.
func TestStuckCheckDoesNotLeak(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	a := apptest.New(t, apex.Modules, apptest.Config(map[string]any{"http.health.timeout": "20ms"}), apptest.With(fx.Provide(
		httpx.AsHealthCheck(func() httpx.HealthCheck {
			return httpx.CheckFunc("stuck", func(context.Context) error { <-hang; return nil })
		}),
	)))
	a.Do(t, http.MethodGet, "/readyz", "")
	before := runtime.NumGoroutine()
	for range 50 {
		if r := a.Do(t, http.MethodGet, "/readyz", ""); r.StatusCode != 503 {
			t.Fatalf("readyz %d", r.StatusCode)
		}
	}
	if after := runtime.NumGoroutine(); after > before+10 {
		t.Fatalf("goroutines grew from %d to %d over 50 probes", before, after)
	}
}

func TestBindSliceValidatesElements(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules, apptest.With(fx.Invoke(func(e *echo.Echo) {
		e.POST("/batch", func(c echo.Context) error {
			var in []createOrder
			if err := httpx.Bind(c, &in); err != nil {
				return err
			}
			return c.JSON(http.StatusOK, len(in))
		})
	})))
	if r := a.Do(t, http.MethodPost, "/batch", `[{"sku":"a1","quantity":1}]`); r.StatusCode != 200 {
		t.Fatalf("valid batch: %d %s", r.StatusCode, r.Body)
	}
	r := a.Do(t, http.MethodPost, "/batch", `[{"sku":"a1","quantity":1},{"sku":"","quantity":1}]`)
	p := problemOf(t, r)
	if r.StatusCode != 422 || len(p.Errors) != 1 || p.Errors[0].Field != "[1].sku" {
		t.Fatalf("%d %+v", r.StatusCode, p.Errors)
	}
}
