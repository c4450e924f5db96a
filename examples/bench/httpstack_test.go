package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func startApex(tb testing.TB, extra map[string]any) *Apex {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	a, err := StartApex(ctx, extra)
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
// both stacks alike.
func serve(b *testing.B, h http.Handler) {
	req := httptest.NewRequest(http.MethodGet, Path, nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkGetItem compares the cost per request of apex's full default
// stack with bare echo, in one run:
//
//	go test -run xxx -bench GetItem -benchmem
func BenchmarkGetItem(b *testing.B) {
	b.Run("apex", func(b *testing.B) {
		serve(b, startApex(b, nil).Echo)
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
