package httpx

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/apexgo/apex/observe"
)

// stackServer is New with the default config, logging to an observer.
func stackServer(t *testing.T) (*Server, *observer.ObservedLogs, *prometheus.Registry) {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	reg := prometheus.NewRegistry()
	s, err := New(Params{Config: DefaultConfig(), Log: zap.New(core), Registerer: reg, Gatherer: reg})
	if err != nil {
		t.Fatal(err)
	}
	s.Echo.GET("/items/:id", func(c echo.Context) error {
		ctx := c.Request().Context()
		return c.String(http.StatusOK, observe.RequestID(ctx))
	})
	return s, logs, reg
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && (s[i] < 'a' || s[i] > 'f') {
			return false
		}
	}
	return true
}

// Generated request IDs are 32 lowercase hex characters (128 random
// bits), distinct across many concurrent requests, and the same in the
// response header, the request's context and the access line. Each
// response has a header value of its own.
func TestGeneratedRequestIDs(t *testing.T) {
	t.Parallel()
	s, logs, _ := stackServer(t)
	const workers, each = 8, 500
	var mu sync.Mutex
	seen := map[string]bool{}
	var headers []http.Header
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				w := httptest.NewRecorder()
				s.Echo.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/items/1", nil))
				id := w.Header().Get(DefaultRequestIDHeader)
				if len(id) != requestIDLen || !isLowerHex(id) {
					t.Errorf("generated ID %q", id)
					return
				}
				if w.Body.String() != id {
					t.Errorf("context's request ID %q, header's %q", w.Body.String(), id)
				}
				mu.Lock()
				if seen[id] {
					t.Errorf("ID %q generated twice", id)
				}
				seen[id] = true
				headers = append(headers, w.Header())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != workers*each {
		t.Fatalf("%d distinct IDs for %d requests", len(seen), workers*each)
	}
	lines := logs.FilterMessage("request").All()
	if len(lines) != workers*each {
		t.Fatalf("%d access lines for %d requests", len(lines), workers*each)
	}
	for _, l := range lines {
		if id, _ := l.ContextMap()["request_id"].(string); !seen[id] {
			t.Fatalf("access line's request_id %q was not answered", id)
		}
	}
	// A response's header value is its own: changing one leaves the others.
	before := headers[1].Get(DefaultRequestIDHeader)
	headers[0][http.CanonicalHeaderKey(DefaultRequestIDHeader)][0] = "changed"
	if headers[1].Get(DefaultRequestIDHeader) != before {
		t.Fatal("responses share a request ID header value")
	}
}

// A sane client-sent ID is kept (header, context, access line); one that
// is not is replaced by a generated one.
func TestClientRequestID(t *testing.T) {
	t.Parallel()
	s, logs, _ := stackServer(t)
	for _, tc := range []struct{ sent, want string }{
		{"client-id-123", "client-id-123"},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{"~!#$%&'*+-.^_`|", "~!#$%&'*+-.^_`|"},
		{"has space", ""},
		{"", ""},
	} {
		req := httptest.NewRequest(http.MethodGet, "/items/1", nil)
		if tc.sent != "" {
			req.Header.Set(DefaultRequestIDHeader, tc.sent)
		}
		w := httptest.NewRecorder()
		s.Echo.ServeHTTP(w, req)
		got := w.Header().Get(DefaultRequestIDHeader)
		if tc.want != "" && got != tc.want {
			t.Errorf("sent %q: got %q", tc.sent, got)
		}
		if tc.want == "" && (got == tc.sent || len(got) != requestIDLen || !isLowerHex(got)) {
			t.Errorf("sent %q: got %q, want a generated ID", tc.sent, got)
		}
		if w.Body.String() != got {
			t.Errorf("sent %q: context's ID %q, header's %q", tc.sent, w.Body.String(), got)
		}
		if tc.sent != "" && req.Header.Get(DefaultRequestIDHeader) != tc.sent {
			t.Errorf("request header changed to %q", req.Header.Get(DefaultRequestIDHeader))
		}
		l := logs.TakeAll()
		if len(l) != 1 || l[0].ContextMap()["request_id"] != got {
			t.Errorf("sent %q: access lines %v", tc.sent, l)
		}
	}
}

// The access line: its logger name, level, time (the request's end) and
// fields as the JSON encoder gets them; the metrics of the same request.
func TestAccessLineAndMetrics(t *testing.T) {
	t.Parallel()
	s, logs, reg := stackServer(t)
	before := time.Now()
	w := httptest.NewRecorder()
	s.Echo.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/items/7?token=x", nil))
	after := time.Now()
	l := logs.All()
	if len(l) != 1 {
		t.Fatalf("%d lines", len(l))
	}
	e := l[0]
	if e.LoggerName != "access" || e.Level != zapcore.InfoLevel || e.Message != "request" || e.Time.Before(before) || e.Time.After(after) || e.Caller.Defined {
		t.Fatalf("entry %+v", e.Entry)
	}
	m := e.ContextMap()
	want := map[string]any{"method": "GET", "route": "/items/:id", "status": int64(200), "bytes": int64(w.Body.Len()), "request_id": w.Body.String()}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, m[k], m[k], v)
		}
	}
	if d, ok := m["latency"].(time.Duration); !ok || d <= 0 || d > after.Sub(before) {
		t.Errorf("latency %v", m["latency"])
	}
	if len(m) != len(want)+1 {
		t.Errorf("fields %v", m)
	}
	const want2 = `
# HELP http_requests_total HTTP requests served.
# TYPE http_requests_total counter
http_requests_total{method="GET",route="/items/:id",status="200"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want2), "http_requests_total"); err != nil {
		t.Error(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "http_request_duration_seconds" {
			h := mf.GetMetric()[0].GetHistogram()
			if h.GetSampleCount() != 1 || h.GetSampleSum() != m["latency"].(time.Duration).Seconds() {
				t.Errorf("histogram count %d sum %v, latency %v", h.GetSampleCount(), h.GetSampleSum(), m["latency"])
			}
			return
		}
	}
	t.Error("no http_request_duration_seconds")
}

type ctxValueKey struct{}

// A ContextValue is made from the request when looked up, in the handler
// or through a context derived from the request's, and not before; a
// derived context's own value for the key wins. Bad ones are start errors.
func TestContextValues(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	v := ContextValue{Key: ctxValueKey{}, Value: func(c echo.Context) any {
		calls.Add(1)
		return c.Request().Header.Get("X-User")
	}}
	s, err := New(Params{Config: DefaultConfig(), Log: zap.NewNop(), ContextValues: []ContextValue{v}})
	if err != nil {
		t.Fatal(err)
	}
	s.Echo.GET("/who", func(c echo.Context) error {
		ctx := c.Request().Context()
		if calls.Load() != 0 {
			t.Error("made before it was looked up")
		}
		derived, cancel := context.WithCancel(context.WithValue(ctx, struct{}{}, 1))
		defer cancel()
		got, _ := derived.Value(ctxValueKey{}).(string)
		own, _ := context.WithValue(ctx, ctxValueKey{}, "own").Value(ctxValueKey{}).(string)
		return c.String(http.StatusOK, got+" "+own+" "+observe.RequestID(ctx))
	})
	s.Echo.GET("/none", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	req := httptest.NewRequest(http.MethodGet, "/who", nil)
	req.Header.Set("X-User", "alice")
	req.Header.Set(DefaultRequestIDHeader, "rid-1")
	w := httptest.NewRecorder()
	s.Echo.ServeHTTP(w, req)
	if w.Body.String() != "alice own rid-1" || calls.Load() != 1 {
		t.Fatalf("body %q, %d calls", w.Body.String(), calls.Load())
	}
	s.Echo.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/none", nil))
	if calls.Load() != 1 {
		t.Fatal("made for a request that never looked it up")
	}
	for name, bad := range map[string][]ContextValue{
		"no Key or no Value": {{Key: ctxValueKey{}}},
		"cannot be compared": {{Key: []string{"x"}, Value: v.Value}},
		"two ContextValues":  {v, v},
	} {
		if _, err := New(Params{Config: DefaultConfig(), Log: zap.NewNop(), ContextValues: bad}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
