package otlphttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/slim/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/slim/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/apexgo/apex/internal/otlphttp"
)

// receiver is a local OTLP/HTTP collector: it decodes every request.
type receiver struct {
	mu       sync.Mutex
	requests []*coltracepb.ExportTraceServiceRequest
	paths    []string
	headers  []http.Header
	answer   func(w http.ResponseWriter)
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	r := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		var m coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &m)
		}
		if err != nil {
			t.Errorf("receiver: %v", err)
		}
		r.mu.Lock()
		r.requests = append(r.requests, &m)
		r.paths = append(r.paths, req.URL.Path)
		r.headers = append(r.headers, req.Header.Clone())
		answer := r.answer
		r.mu.Unlock()
		if answer != nil {
			answer(w)
		}
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

func TestExportsEverySpanField(t *testing.T) {
	t.Parallel()
	rec, srv := newReceiver(t)
	exp, err := otlphttp.New(otlphttp.Config{Endpoint: srv.URL, Headers: map[string]string{"Authorization": "Bearer k"}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "orders"))),
	)
	tracer := tp.Tracer("apex/test", trace.WithInstrumentationVersion("v1"))
	ctx, parent := tracer.Start(context.Background(), "parent")
	_, child := tracer.Start(ctx, "child", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("s", "v"), attribute.Int("i", 7), attribute.Bool("b", true), attribute.Float64("f", 1.5),
		attribute.StringSlice("ss", []string{"a", "b"}),
	))
	child.AddEvent("retry", trace.WithAttributes(attribute.Int("attempt", 2)))
	child.SetStatus(codes.Error, "db down")
	child.End()
	parent.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.requests) != 2 {
		t.Fatalf("%d requests, want 2 (one per span with a syncer)", len(rec.requests))
	}
	if rec.paths[0] != "/v1/traces" || rec.headers[0].Get("Content-Type") != "application/x-protobuf" || rec.headers[0].Get("Authorization") != "Bearer k" {
		t.Fatalf("path %q headers %v", rec.paths[0], rec.headers[0])
	}
	rs := rec.requests[0].GetResourceSpans()[0]
	if kv := rs.GetResource().GetAttributes()[0]; kv.GetKey() != "service.name" || kv.GetValue().GetStringValue() != "orders" {
		t.Fatalf("resource: %v", rs.GetResource())
	}
	ss := rs.GetScopeSpans()[0]
	if ss.GetScope().GetName() != "apex/test" || ss.GetScope().GetVersion() != "v1" {
		t.Fatalf("scope: %v", ss.GetScope())
	}
	got := ss.GetSpans()[0]
	want := child.SpanContext()
	tid, sid, psid := want.TraceID(), want.SpanID(), parent.SpanContext().SpanID()
	if got.GetName() != "child" || string(got.GetTraceId()) != string(tid[:]) || string(got.GetSpanId()) != string(sid[:]) ||
		string(got.GetParentSpanId()) != string(psid[:]) || got.GetKind() != tracepb.Span_SPAN_KIND_SERVER ||
		got.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR || got.GetStatus().GetMessage() != "db down" ||
		got.GetStartTimeUnixNano() == 0 || got.GetEndTimeUnixNano() < got.GetStartTimeUnixNano() || got.GetFlags()&1 != 1 {
		t.Fatalf("span: %v", got)
	}
	attrs := map[string]string{}
	for _, kv := range got.GetAttributes() {
		attrs[kv.GetKey()] = kv.GetValue().String()
	}
	for _, k := range []string{"s", "i", "b", "f", "ss"} {
		if attrs[k] == "" {
			t.Errorf("attribute %s missing: %v", k, attrs)
		}
	}
	if ev := got.GetEvents(); len(ev) != 1 || ev[0].GetName() != "retry" || ev[0].GetAttributes()[0].GetValue().GetIntValue() != 2 {
		t.Fatalf("events: %v", ev)
	}
	if p := rec.requests[1].GetResourceSpans()[0].GetScopeSpans()[0].GetSpans()[0]; len(p.GetParentSpanId()) != 0 || p.GetName() != "parent" {
		t.Fatalf("root span: %v", p)
	}
}

func TestEndpointPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://c:4318":             "http://c:4318/v1/traces",
		"http://c:4318/":            "http://c:4318/v1/traces",
		"https://c/otlp":            "https://c/otlp/v1/traces",
		"https://c/otlp/v1/traces":  "https://c/otlp/v1/traces",
		"https://c/otlp/v1/traces/": "https://c/otlp/v1/traces",
	} {
		exp, err := otlphttp.New(otlphttp.Config{Endpoint: in})
		if err != nil || exp.URL() != want {
			t.Errorf("%s: %v %v, want %s", in, exp.URL(), err, want)
		}
	}
	for _, bad := range []string{"", "c:4318", "ftp://c", "http://"} {
		if _, err := otlphttp.New(otlphttp.Config{Endpoint: bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A redirect is an error, not followed: it would carry the exporter's
// headers (API keys) to the host it names.
func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var followed atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Store(true) }))
	defer other.Close()
	rec, srv := newReceiver(t)
	rec.mu.Lock()
	rec.answer = func(w http.ResponseWriter) {
		w.Header().Set("Location", other.URL+"/v1/traces")
		w.WriteHeader(http.StatusTemporaryRedirect)
	}
	rec.mu.Unlock()
	exp, err := otlphttp.New(otlphttp.Config{Endpoint: srv.URL, Timeout: 5 * time.Second, Headers: map[string]string{"X-Api-Key": "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	rs := &recorder{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rs))
	_, sp := tp.Tracer("t").Start(context.Background(), "op")
	sp.End()
	if err := exp.ExportSpans(context.Background(), rs.spans); err == nil {
		t.Fatal("a 307 answer was taken as success")
	}
	if followed.Load() {
		t.Fatal("the redirect was followed, headers and all")
	}
}

func TestRefusalsAreErrors(t *testing.T) {
	t.Parallel()
	rec, srv := newReceiver(t)
	exp, err := otlphttp.New(otlphttp.Config{Endpoint: srv.URL, Headers: map[string]string{"Authorization": "Bearer s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	spans := func() []sdktrace.ReadOnlySpan {
		rec := &recorder{}
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		_, s := tp.Tracer("t").Start(context.Background(), "op")
		s.End()
		return rec.spans
	}

	rec.mu.Lock()
	rec.answer = func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }
	rec.mu.Unlock()
	if err := exp.ExportSpans(context.Background(), spans()); err == nil || errors.Is(err, otlphttp.ErrShutdown) {
		t.Fatalf("503 accepted: %v", err)
	} else if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error leaks the header: %v", err)
	}

	rec.mu.Lock()
	rec.answer = func(w http.ResponseWriter) {
		b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{RejectedSpans: 1, ErrorMessage: "too old"}})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(b)
	}
	rec.mu.Unlock()
	if err := exp.ExportSpans(context.Background(), spans()); err == nil {
		t.Fatal("rejected spans not reported")
	}

	rec.mu.Lock()
	rec.answer = nil
	rec.mu.Unlock()
	if err := exp.ExportSpans(context.Background(), spans()); err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := exp.ExportSpans(context.Background(), spans()); !errors.Is(err, otlphttp.ErrShutdown) {
		t.Fatalf("after shutdown: %v", err)
	}
}

func TestHangingCollectorBoundedByContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	exp, err := otlphttp.New(otlphttp.Config{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	_, s := tp.Tracer("t").Start(context.Background(), "op")
	s.End()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := exp.ExportSpans(ctx, rec.spans); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

// recorder keeps ended spans.
type recorder struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
}

func (r *recorder) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (r *recorder) OnEnd(s sdktrace.ReadOnlySpan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, s)
}
func (r *recorder) Shutdown(context.Context) error   { return nil }
func (r *recorder) ForceFlush(context.Context) error { return nil }
