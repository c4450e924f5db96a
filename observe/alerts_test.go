package observe_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/observe"
	"github.com/apexgo/apex/observe/webhook"
)

type sink struct {
	mu     sync.Mutex
	alerts []observe.Alert
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p webhook.Payload
	if err := jsonDecode(r, &p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.alerts = append(s.alerts, p.Alert)
	s.mu.Unlock()
}

func (s *sink) all() []observe.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]observe.Alert(nil), s.alerts...)
}

func newDispatcher(t *testing.T, url string, cfg observe.AlertsConfig) (*observe.Dispatcher, *zap.Logger, *prometheus.Registry) {
	t.Helper()
	wh, err := webhook.New(webhook.Config{URL: app.NewSecret(url), Timeout: cfg.Timeout})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	info := app.Info{Name: "orders", Env: "production"}
	d, err := observe.NewDispatcher(cfg, info, wh, zap.NewNop(), reg)
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = d.Stop(ctx)
	})
	log := zap.New(zapcore.NewTee(zapcore.NewNopCore(), d.Core()))
	return d, log, reg
}

func alertsConfig() observe.AlertsConfig {
	c := observe.DefaultConfig().Alerts
	c.Timeout = 2 * time.Second
	return c
}

func TestErrorLogBecomesAlert(t *testing.T) {
	t.Parallel()
	s := &sink{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	d, log, reg := newDispatcher(t, srv.URL, alertsConfig())

	log.Warn("just a warning")
	log.With(zap.String("request_id", "req-9")).Error("payment failed",
		zap.Error(errors.New("card declined")), zap.String("trace_id", "abc123"))
	if err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := s.all()
	if len(got) != 1 {
		t.Fatalf("got %d alerts, want 1 (WARN must not alert): %+v", len(got), got)
	}
	a := got[0]
	if a.Message != "payment failed" || a.Error != "card declined" || a.RequestID != "req-9" || a.TraceID != "abc123" ||
		a.Service != "orders" || a.Env != "production" || a.Level != "error" || a.Count != 1 || a.Time.IsZero() {
		t.Fatalf("alert fields: %+v", a)
	}
	if n := counterValue(t, reg, "apex_alerts_sent_total"); n != 1 {
		t.Fatalf("sent counter %v", n)
	}
}

func TestIdenticalAlertsFold(t *testing.T) {
	t.Parallel()
	s := &sink{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	d, log, _ := newDispatcher(t, srv.URL, alertsConfig())

	for range 50 {
		log.Error("cache unreachable", zap.Error(errors.New("dial tcp 10.0.0.1:6379: refused")))
	}
	log.Error("another problem")
	if err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := s.all()
	sort.Slice(got, func(i, j int) bool {
		return got[i].Message+string(rune(got[i].Count)) < got[j].Message+string(rune(got[j].Count))
	})
	counts := map[string][]int{}
	for _, a := range got {
		counts[a.Message] = append(counts[a.Message], a.Count)
	}
	if c := counts["cache unreachable"]; len(c) != 2 || c[0]+c[1] != 50 || c[0] != 1 {
		t.Fatalf("want the first alert then one folded alert of 49, got %v", c)
	}
	if c := counts["another problem"]; len(c) != 1 || c[0] != 1 {
		t.Fatalf("distinct alert: %v", c)
	}
}

// TestHangingReceiverNeverSlowsLogging: while the receiver hangs (it
// answers only when the test ends), a thousand ERROR lines are logged and
// counted as dropped, and Stop returns within its budget. A logging call
// that waited on the receiver would never return before the release, so
// the deadlines below detect a hang; they measure no speed.
func TestHangingReceiverNeverSlowsLogging(t *testing.T) {
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
	cfg := alertsConfig()
	cfg.QueueSize = 8
	cfg.Timeout = time.Hour // a send that is waited for would outlast the test
	cfg.Window = 0
	d, log, reg := newDispatcher(t, srv.URL, cfg)

	logged := make(chan struct{})
	go func() {
		defer close(logged)
		for i := range 1000 {
			log.Error("distinct", zap.Int("i", i), zap.Error(errors.New("boom")))
		}
	}()
	select {
	case <-logged:
	case <-time.After(time.Minute):
		t.Fatal("logging blocked while the alert receiver hangs")
	}
	if dropped := counterValue(t, reg, "apex_alerts_dropped_total"); dropped < 900 {
		t.Fatalf("dropped %v alerts, want the overflow (≥ 900) counted", dropped)
	}
	// A dead receiver must neither fail nor hold up the stop: Stop ends
	// with its context, not with the hour-long send timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- d.Stop(ctx) }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Stop with a hanging receiver: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Stop outlived its 200ms budget by a minute with a hanging receiver")
	}
}
