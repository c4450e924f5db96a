package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/observe/observetest"
	"github.com/apexgo/apex/observe/port"
	"github.com/apexgo/apex/observe/webhook"
)

// receiver is a real HTTP endpoint that records what it is sent.
type receiver struct {
	mu       sync.Mutex
	payloads []webhook.Payload
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var p webhook.Payload
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "want JSON POST", http.StatusBadRequest)
		return
	}
	if err := json.NewDecoder(req.Body).Decode(&p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.payloads = append(r.payloads, p)
	r.mu.Unlock()
}

func (r *receiver) alerts() []port.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]port.Alert, len(r.payloads))
	for i, p := range r.payloads {
		out[i] = p.Alert
	}
	return out
}

func TestConformance(t *testing.T) {
	t.Parallel()
	observetest.Run(t, observetest.Features{Refuses: true}, func(t *testing.T, refuse bool) observetest.Harness {
		rec := &receiver{}
		var h http.Handler = rec
		if refuse {
			h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		a, err := webhook.New(webhook.Config{URL: app.NewSecret(srv.URL + "/hooks/T000/secret-token")})
		if err != nil {
			t.Fatal(err)
		}
		return observetest.Harness{Alerter: a, Received: rec.alerts}
	})
}

func TestPayloadHasSlackText(t *testing.T) {
	t.Parallel()
	rec := &receiver{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	a, _ := webhook.New(webhook.Config{URL: app.NewSecret(srv.URL)})
	err := a.Alert(context.Background(), port.Alert{Service: "orders", Env: "production", Level: "error", Message: "db down", Error: "dial tcp: refused", Count: 4, RequestID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	text := rec.payloads[0].Text
	rec.mu.Unlock()
	for _, want := range []string{"[production]", "orders", "ERROR", "db down", "dial tcp: refused", "×4", "request_id=r1"} {
		if !strings.Contains(text, want) {
			t.Errorf("text %q lacks %q", text, want)
		}
	}
}

func TestTextEscapesSlackMarkup(t *testing.T) {
	t.Parallel()
	got := webhook.Text(port.Alert{Env: "prod", Service: "s", Level: "error", Message: "a <!channel> & b", Error: "<http://evil|click>"})
	if strings.ContainsAny(strings.TrimPrefix(got, "[prod] s ERROR: "), "<>") || !strings.Contains(got, "&lt;!channel&gt; &amp; b") {
		t.Fatalf("not escaped: %s", got)
	}
}

func TestAlerterNeverPrintsTheURL(t *testing.T) {
	t.Parallel()
	a, _ := webhook.New(webhook.Config{URL: app.NewSecret("https://hooks.example/T0/secret-token")})
	for _, s := range []string{fmt.Sprintf("%+v", a), fmt.Sprintf("%#v", a), fmt.Sprint(*a)} {
		if strings.Contains(s, "secret-token") {
			t.Fatalf("printed the URL: %s", s)
		}
	}
}

func TestErrorsNeverShowTheURL(t *testing.T) {
	t.Parallel()
	const token = "xoxb-super-secret-token"
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusForbidden)
	}))
	defer refusing.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	for name, u := range map[string]string{"refused": refusing.URL, "unreachable": closedURL} {
		a, err := webhook.New(webhook.Config{URL: app.NewSecret(u + "/" + token), Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = a.Alert(context.Background(), port.Alert{Message: "x"})
		if !errors.Is(err, port.ErrDelivery) {
			t.Fatalf("%s: want ErrDelivery, got %v", name, err)
		}
		if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), u) {
			t.Fatalf("%s: error reveals the URL: %v", name, err)
		}
	}
}

func TestHangingReceiverTimesOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	a, _ := webhook.New(webhook.Config{URL: app.NewSecret(srv.URL), Timeout: 100 * time.Millisecond})
	start := time.Now()
	err := a.Alert(context.Background(), port.Alert{Message: "x"})
	if !errors.Is(err, port.ErrDelivery) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("took %v with a 100ms timeout", took)
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "not a url", "ftp://x", "/relative"} {
		if _, err := webhook.New(webhook.Config{URL: app.NewSecret(u)}); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}
}
