package httpx_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/apexgo/apex/httpx"
)

var errSpanItemNotFound = errors.New("item not found")

// spanServer is an httpx server with a recording tracer whose spans end
// up in the returned recorder, and a few routes: /items/:id (200, or a
// mapped 404 for id 0), /fail (an error), /boom (a panic) and /outgoing,
// which answers with the headers a propagator writes from the handler's
// context, as an outgoing call would carry them.
func spanServer(t *testing.T) (*httpx.Server, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	cfg := httpx.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.TrustedProxies = []string{"10.0.0.0/8"}
	s, err := httpx.New(httpx.Params{
		Config: cfg, Log: zap.NewNop(), TracerProvider: tp, Propagator: prop,
		ErrorMapping: []httpx.ErrorMapping{{Err: errSpanItemNotFound, Status: http.StatusNotFound}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Echo.GET("/items/:id", func(c echo.Context) error {
		if c.Param("id") == "0" {
			return fmt.Errorf("item 0: %w", errSpanItemNotFound)
		}
		return c.String(http.StatusOK, "lamp")
	})
	s.Echo.GET("/fail", func(c echo.Context) error { return errors.New("db rejected the query") })
	s.Echo.GET("/boom", func(c echo.Context) error { panic("bad state") })
	s.Echo.GET("/outgoing", func(c echo.Context) error {
		out := http.Header{}
		prop.Inject(c.Request().Context(), propagation.HeaderCarrier(out))
		for k, v := range out {
			c.Response().Header()["Out-"+k] = v
		}
		return c.NoContent(http.StatusNoContent)
	})
	return s, rec
}

func serveOne(s *httpx.Server, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.Echo.ServeHTTP(w, req)
	return w
}

// onlySpan returns the one span the recorder holds.
func onlySpan(t *testing.T, rec *tracetest.SpanRecorder) sdktrace.ReadOnlySpan {
	t.Helper()
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	return spans[0]
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestServerSpanDescribesRequest(t *testing.T) {
	t.Parallel()
	s, rec := spanServer(t)
	req := httptest.NewRequest(http.MethodGet, "http://api.example:8443/items/7?token=secret", nil)
	req.RemoteAddr = "10.1.2.3:5555"
	req.Header.Set("User-Agent", "apex-test/1")
	req.Header.Set("X-Request-ID", "req-123")
	req.Header.Set("X-Forwarded-For", "203.0.113.9") // behind a trusted proxy
	if w := serveOne(s, req); w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	sp := onlySpan(t, rec)
	if sp.Name() != "GET /items/:id" || sp.SpanKind() != trace.SpanKindServer {
		t.Fatalf("span %q of kind %v", sp.Name(), sp.SpanKind())
	}
	if sp.InstrumentationScope().Name != httpx.TracerName {
		t.Errorf("scope %q", sp.InstrumentationScope().Name)
	}
	got := attrs(sp)
	want := map[attribute.Key]any{
		"http.request.method":               "GET",
		"http.route":                        "/items/:id",
		"url.scheme":                        "http",
		"url.path":                          "/items/7",
		"client.address":                    "203.0.113.9",
		"user_agent.original":               "apex-test/1",
		"http.response.status_code":         int64(200),
		"http.response.header.x-request-id": []string{"req-123"},
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || fmt.Sprint(g.AsInterface()) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, g.AsInterface(), v)
		}
	}
	for k, v := range got {
		if strings.Contains(v.Emit(), "secret") {
			t.Errorf("%s carries the query string: %q", k, v.Emit())
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d attributes, want %d (more than 8 cost the SDK a map per span): %v", len(got), len(want), got)
	}
	if _, ok := got["error.type"]; ok || sp.Status().Code != codes.Unset {
		t.Errorf("a 200 marked as an error: %v %v", got["error.type"], sp.Status())
	}
	if sp.Parent().IsValid() {
		t.Errorf("a request without traceparent got parent %v", sp.Parent())
	}
}

// A generated request ID is the one in the response and in the span;
// without a proxy the client is the peer.
func TestServerSpanCarriesGeneratedRequestID(t *testing.T) {
	t.Parallel()
	s, rec := spanServer(t)
	req := httptest.NewRequest(http.MethodGet, "/items/1", nil)
	req.RemoteAddr = "10.1.2.3:5555"
	w := serveOne(s, req)
	id := w.Header().Get("X-Request-ID")
	got := attrs(onlySpan(t, rec))
	ids := got["http.response.header.x-request-id"].AsStringSlice()
	if id == "" || len(ids) != 1 || ids[0] != id {
		t.Fatalf("span request ID %v, response %q", ids, id)
	}
	if got["client.address"].AsString() != "10.1.2.3" {
		t.Errorf("client.address %v", got["client.address"].AsInterface())
	}
}

// The span continues the caller's trace, and what the handler calls
// continues the span's: W3C trace context and baggage in and out.
func TestServerSpanPropagatesTraceContext(t *testing.T) {
	t.Parallel()
	s, rec := spanServer(t)
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req := httptest.NewRequest(http.MethodGet, "/outgoing", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	req.Header.Set("tracestate", "vendor=abc")
	req.Header.Set("baggage", "tenant=acme")
	w := serveOne(s, req)
	sp := onlySpan(t, rec)
	if sp.SpanContext().TraceID().String() != traceID || sp.Parent().SpanID().String() != parentID || !sp.Parent().IsRemote() {
		t.Fatalf("span %v, parent %v: not the caller's trace", sp.SpanContext(), sp.Parent())
	}
	if ts := sp.SpanContext().TraceState().String(); ts != "vendor=abc" {
		t.Errorf("tracestate %q", ts)
	}
	wantOut := "00-" + traceID + "-" + sp.SpanContext().SpanID().String() + "-01"
	if out := w.Header().Get("Out-Traceparent"); out != wantOut {
		t.Errorf("outgoing traceparent %q, want %q", out, wantOut)
	}
	if out := w.Header().Get("Out-Tracestate"); out != "vendor=abc" {
		t.Errorf("outgoing tracestate %q", out)
	}
	if b, _ := baggage.Parse(w.Header().Get("Out-Baggage")); b.Member("tenant").Value() != "acme" {
		t.Errorf("outgoing baggage %q", w.Header().Get("Out-Baggage"))
	}
}

// A malformed traceparent starts a new trace instead of failing.
func TestServerSpanIgnoresBadTraceparent(t *testing.T) {
	t.Parallel()
	s, rec := spanServer(t)
	req := httptest.NewRequest(http.MethodGet, "/items/1", nil)
	req.Header.Set("traceparent", "00-zzzz-00f067aa0ba902b7-01")
	if w := serveOne(s, req); w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	if sp := onlySpan(t, rec); sp.Parent().IsValid() || !sp.SpanContext().IsValid() {
		t.Fatalf("span %v with parent %v", sp.SpanContext(), sp.Parent())
	}
}

func TestServerSpanRecordsErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		path, name string
		status     int
		exception  string // "" when the span is not an error
	}{
		{"/fail", "GET /fail", 500, "db rejected the query"},
		{"/boom", "GET /boom", 500, "handler panicked: bad state"},
		{"/items/0", "GET /items/:id", 404, ""},
		{"/nowhere", "GET", 404, ""},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			t.Parallel()
			s, rec := spanServer(t)
			if w := serveOne(s, httptest.NewRequest(http.MethodGet, c.path, nil)); w.Code != c.status {
				t.Fatalf("status %d, want %d", w.Code, c.status)
			}
			sp := onlySpan(t, rec)
			got := attrs(sp)
			if sp.Name() != c.name || got["http.response.status_code"].AsInt64() != int64(c.status) {
				t.Fatalf("span %q with status %v", sp.Name(), got["http.response.status_code"].AsInterface())
			}
			if c.exception == "" {
				if sp.Status().Code != codes.Unset || len(sp.Events()) != 0 {
					t.Fatalf("a %d marked as a server error: %v %v", c.status, sp.Status(), sp.Events())
				}
				if _, ok := got["http.route"]; ok != (c.name != "GET") {
					t.Errorf("http.route %v on %q", got["http.route"].AsInterface(), sp.Name())
				}
				return
			}
			if sp.Status().Code != codes.Error || !strings.Contains(sp.Status().Description, c.exception) {
				t.Errorf("status %v", sp.Status())
			}
			if got["error.type"].AsString() != "500" {
				t.Errorf("error.type %v", got["error.type"].AsInterface())
			}
			var msg string
			for _, e := range sp.Events() {
				for _, a := range e.Attributes {
					if e.Name == "exception" && a.Key == "exception.message" {
						msg = a.Value.AsString()
					}
				}
			}
			if !strings.Contains(msg, c.exception) {
				t.Errorf("exception event %q, want %q in it", msg, c.exception)
			}
		})
	}
}

// A method outside the standard set is recorded as _OTHER, named HTTP.
func TestServerSpanOtherMethod(t *testing.T) {
	t.Parallel()
	s, rec := spanServer(t)
	serveOne(s, httptest.NewRequest("PROPFIND", "/items/1", nil))
	sp := onlySpan(t, rec)
	got := attrs(sp)
	if !strings.HasPrefix(sp.Name(), "HTTP") || got["http.request.method"].AsString() != "_OTHER" || got["http.request.method_original"].AsString() != "PROPFIND" {
		t.Fatalf("span %q: %v / %v", sp.Name(), got["http.request.method"].AsInterface(), got["http.request.method_original"].AsInterface())
	}
}
