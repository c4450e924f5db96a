package httpx

import (
	"context"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// discard is a span exporter that drops what it is given.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkSpanParts compares apex's server span (start and end, with
// every attribute) with a bare SDK span of the same name and no attribute:
// the difference is what apex's attributes and bookkeeping cost. "batch"
// feeds a BatchSpanProcessor exporting to nowhere, "noproc" no processor.
// cpu-ns/op is the process's CPU time per span, the batch processor's
// goroutine and the garbage collector included.
//
//	go test -run xxx -bench SpanParts -benchmem ./httpx/
func BenchmarkSpanParts(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discard{}))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tp2 := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	e := echo.New()
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/items/1", nil)
	req.Header.Set("User-Agent", "wrk")
	c := e.NewContext(req, httptest.NewRecorder())
	c.SetPath("/items/:id")
	s := newServerSpans(tp, propagation.TraceContext{}, "X-Request-ID")
	s2 := newServerSpans(tp2, propagation.TraceContext{}, "X-Request-ID")
	tr := tp.Tracer("x")
	tr2 := tp2.Tracer("x")
	b.Run("sdk-bare-batch", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		for b.Loop() {
			_, sp := tr.Start(context.Background(), "GET /items/:id")
			sp.End()
		}
	})
	b.Run("sdk-bare-noproc", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		for b.Loop() {
			_, sp := tr2.Start(context.Background(), "GET /items/:id")
			sp.End()
		}
	})
	b.Run("apex-batch", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		for b.Loop() {
			_, sp := s.start(context.Background(), c, req)
			s.end(sp, c, req, "0123456789abcdef0123456789abcdef", 200, nil)
		}
	})
	b.Run("apex-noproc", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		for b.Loop() {
			_, sp := s2.start(context.Background(), c, req)
			s2.end(sp, c, req, "0123456789abcdef0123456789abcdef", 200, nil)
		}
	})
}

func cpuPerOp(b *testing.B) func() {
	t0 := cpuNow()
	return func() { b.ReportMetric(float64(cpuNow()-t0)/float64(b.N), "cpu-ns/op") }
}

func cpuNow() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
