package observe_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/slim/otlp/collector/trace/v1"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/proto"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/observe"
)

func TestTracingNoopWithoutEndpoint(t *testing.T) {
	t.Parallel()
	tr, err := observe.NewTracing(observe.DefaultConfig().Tracing, app.Info{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Provider.Tracer("t").Start(context.Background(), "op")
	if span.IsRecording() {
		t.Fatal("no-op provider records spans")
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTracingShutdownWithHangingCollector(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	cfg := observe.DefaultConfig().Tracing
	cfg.Endpoint = srv.URL
	cfg.Timeout = 200 * time.Millisecond
	tr, err := observe.NewTracing(cfg, app.Info{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		_, span := tr.Provider.Tracer("t").Start(context.Background(), "op")
		span.End()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_ = tr.Shutdown(ctx)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("shutdown took %v with the collector hanging", took)
	}
}

func TestTracingSamplesByRatioAndFollowsParent(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	cfg := observe.DefaultConfig().Tracing
	cfg.SampleRatio = 0
	tr, err := observe.NewTracing(cfg, app.Info{Name: "x"}, sdktrace.NewSimpleSpanProcessor(exp))
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Provider.Tracer("t").Start(context.Background(), "root")
	span.End()
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("ratio 0 recorded %d spans", n)
	}
	// A sampled remote parent is followed.
	carrier := map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	ctx := tr.Propagator.Extract(context.Background(), mapCarrier(carrier))
	_, span = tr.Provider.Tracer("t").Start(ctx, "child")
	span.End()
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("sampled parent not followed: %+v", spans)
	}
}

type mapCarrier map[string]string

func (m mapCarrier) Get(k string) string { return m[k] }
func (m mapCarrier) Set(k, v string)     { m[k] = v }
func (m mapCarrier) Keys() []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestLoggerFromContext(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel)
	exp := tracetest.NewInMemoryExporter()
	tr, _ := observe.NewTracing(observe.DefaultConfig().Tracing, app.Info{Name: "x"}, sdktrace.NewSimpleSpanProcessor(exp))
	ctx, span := tr.Provider.Tracer("t").Start(context.Background(), "op")
	defer span.End()
	ctx = observe.ContextWithLogger(observe.ContextWithRequestID(ctx, "req-1"), zap.New(core))
	observe.Logger(ctx).Info("hello")
	m := logs.All()[0].ContextMap()
	if m["request_id"] != "req-1" || m["trace_id"] != span.SpanContext().TraceID().String() || m["span_id"] != span.SpanContext().SpanID().String() {
		t.Fatalf("fields: %v", m)
	}
	if observe.Logger(context.Background()) == nil {
		t.Fatal("Logger without a logger in ctx must fall back to zap.L()")
	}
}

// With observe.tracing.endpoint set to a collector's base URL, spans reach
// its /v1/traces as OTLP protobuf, with the configured headers, by the
// time the app stops.
func TestTracingExportsToCollector(t *testing.T) {
	t.Parallel()
	type export struct {
		path, auth string
		req        *coltracepb.ExportTraceServiceRequest
	}
	got := make(chan export, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := export{path: r.URL.Path, auth: r.Header.Get("Authorization"), req: &coltracepb.ExportTraceServiceRequest{}}
		body, _ := io.ReadAll(r.Body)
		if err := proto.Unmarshal(body, e.req); err != nil {
			t.Errorf("collector: %v", err)
		}
		got <- e
	}))
	defer srv.Close()
	cfg := observe.DefaultConfig().Tracing
	cfg.Endpoint = srv.URL
	cfg.Headers = map[string]app.Secret{"Authorization": app.NewSecret("Bearer k")}
	tr, err := observe.NewTracing(cfg, app.Info{Name: "orders", Version: "v1", Env: "test"})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Provider.Tracer("t").Start(context.Background(), "checkout")
	span.End()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-got:
		rs := e.req.GetResourceSpans()
		if e.path != "/v1/traces" || e.auth != "Bearer k" || len(rs) != 1 || rs[0].GetScopeSpans()[0].GetSpans()[0].GetName() != "checkout" {
			t.Fatalf("path %q auth %q spans %v", e.path, e.auth, rs)
		}
		var service string
		for _, kv := range rs[0].GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		if service != "orders" {
			t.Fatalf("service.name %q", service)
		}
	default:
		t.Fatal("no export reached the collector by the end of Shutdown")
	}
}
