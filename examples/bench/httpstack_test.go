package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/fx"
)

func startApex(tb testing.TB, extra map[string]any, opts ...fx.Option) *Apex {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	a, err := StartApex(ctx, extra, opts...)
	if err != nil {
		tb.Fatalf("start apex: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := a.Stop(ctx); err != nil {
			tb.Errorf("stop apex: %v", err)
		}
	})
	return a
}

// Both stacks answer the measured request alike, over the handler and
// over a loopback listener. Runs in well under a second.
func TestStacksServeItem(t *testing.T) {
	a := startApex(t, nil)
	bare := Bare(NewStore())
	bareAddr, stop, err := Serve(bare)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop(context.Background()) })

	var bodies []string
	for name, h := range map[string]http.Handler{"apex": a.Echo, "bare": bare} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, Path, nil))
		if w.Code != http.StatusOK {
			t.Fatalf("%s handler: %d %s", name, w.Code, w.Body)
		}
		bodies = append(bodies, w.Body.String())
	}
	if bodies[0] != bodies[1] {
		t.Fatalf("bodies differ: %q vs %q", bodies[0], bodies[1])
	}
	c := &http.Client{Timeout: 5 * time.Second}
	for name, addr := range map[string]string{"apex": a.Addr, "bare": bareAddr} {
		resp, err := c.Get("http://" + addr + Path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s over loopback: %d", name, resp.StatusCode)
		}
	}
	// The apex stack really is the full one.
	w := httptest.NewRecorder()
	a.Echo.ServeHTTP(w, httptest.NewRequest(http.MethodGet, Path, nil))
	for _, h := range []string{"X-Request-Id", "X-Content-Type-Options", "Content-Security-Policy"} {
		if w.Header().Get(h) == "" {
			t.Errorf("apex response lacks %s: %v", h, w.Header())
		}
	}
}

// serve runs GET /items/1 through h once per iteration, as net/http would
// call it, minus the connection: the recorder's own allocations count in
// both stacks alike. Besides ns/op it reports cpu-ns/op, the CPU time the
// whole process spent per request (so also the batch span processor's
// goroutine and the garbage collector, which run beside the loop on the
// other core), and load1, the machine's 1-minute load average at the end.
func serve(b *testing.B, h http.Handler) {
	req := httptest.NewRequest(http.MethodGet, Path, nil)
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
	load1, _ := strconv.ParseFloat(strings.Fields(LoadAverage())[0], 64)
	b.ReportMetric(load1, "load1")
}

// cpuTime is the user plus system CPU time of this process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGetItem compares the cost per request of apex's full default
// stack (no-op tracer), the same with a recording tracer
// ([WithRecordingTracer]: every span sampled, batched and dropped) and
// bare echo, in one run:
//
//	go test -run xxx -bench 'GetItem$' -benchmem -count 3
//
// apex-tracing minus apex is what the server span costs per request.
func BenchmarkGetItem(b *testing.B) {
	b.Logf("cpu: %s; load average at start: %s", CPUModel(), LoadAverage())
	b.Run("apex", func(b *testing.B) {
		serve(b, startApex(b, nil).Echo)
	})
	b.Run("apex-tracing", func(b *testing.B) {
		serve(b, startApex(b, nil, WithRecordingTracer()).Echo)
	})
	b.Run("bare", func(b *testing.B) {
		serve(b, Bare(NewStore()))
	})
}

// BenchmarkGetItemWithout is the apex stack with one default middleware
// switched off at a time: the difference to BenchmarkGetItem/apex is what
// that middleware costs.
func BenchmarkGetItemWithout(b *testing.B) {
	for _, key := range []string{
		"http.request_id.enabled",
		"http.recover.enabled",
		"http.access_log.enabled",
		"http.tracing.enabled",
		"http.metrics.enabled",
		"http.security_headers.enabled",
		"http.body_limit.enabled",
		"http.gzip.enabled",
		"http.timeout.enabled",
	} {
		b.Run(key, func(b *testing.B) {
			serve(b, startApex(b, map[string]any{key: false}).Echo)
		})
	}
	b.Run("all", func(b *testing.B) {
		serve(b, startApex(b, map[string]any{
			"http.request_id.enabled": false, "http.recover.enabled": false,
			"http.access_log.enabled": false, "http.tracing.enabled": false,
			"http.metrics.enabled": false, "http.security_headers.enabled": false,
			"http.body_limit.enabled": false, "http.gzip.enabled": false,
			"http.timeout.enabled": false,
		}).Echo)
	})
}
