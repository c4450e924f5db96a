package httpx_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/observe"
	"github.com/prometheus/client_golang/prometheus"
)

func adminGet(t *testing.T, adm *observe.AdminServer, path string) (int, string) {
	t.Helper()
	r, err := http.Get("http://" + adm.Addr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b)
}

// A process without the HTTP server (a worker) answers its probes on the
// admin listener, with the health checks the modules registered; with
// the server, the admin listener's endpoints are the server's own.
func TestAdminHealth(t *testing.T) {
	t.Parallel()
	failing := apptest.With(fx.Provide(httpx.AsHealthCheck(func() httpx.HealthCheck {
		return httpx.CheckFunc("broker", func(context.Context) error { return errors.New("unreachable") })
	})))
	admin := apptest.Config(map[string]any{"observe.admin.addr": "127.0.0.1:0"})

	var adm *observe.AdminServer
	apptest.New(t, []fx.Option{apex.Without(apex.HTTP)}, failing, admin, apptest.With(fx.Populate(&adm)))
	if code, body := adminGet(t, adm, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"broker":{"status":"fail"`) {
		t.Fatalf("worker /readyz with a failing check: %d %s", code, body)
	}
	if code, _ := adminGet(t, adm, "/livez"); code != http.StatusOK {
		t.Fatalf("worker /livez: %d", code)
	}
	if code, body := adminGet(t, adm, "/metrics"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("worker /metrics: %d", code)
	}
	if r, err := http.Post("http://"+adm.Addr().String()+"/readyz", "text/plain", nil); err != nil || r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /readyz: %v %v", r, err)
	}

	var withServer *observe.AdminServer
	a := apptest.New(t, apex.Modules, admin, apptest.With(fx.Populate(&withServer)))
	if code, body := adminGet(t, withServer, "/readyz"); code != http.StatusOK || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("/readyz on the admin listener of an app with the server: %d %s", code, body)
	}
	if r := a.Do(t, http.MethodGet, "/metrics", ""); r.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics on the public server with observe.admin.addr: %d", r.StatusCode)
	}
}

func TestAdminHandleConflicts(t *testing.T) {
	t.Parallel()
	a := observe.NewAdminServer(observe.DefaultConfig(), prometheus.NewRegistry(), nil)
	if err := a.Handle("/readyz", http.NotFoundHandler()); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/metrics", "/debug/pprof/x", "readyz", "/readyz"} {
		if err := a.Handle(path, http.NotFoundHandler()); err == nil {
			t.Errorf("admin path %q accepted", path)
		}
	}
	var none *observe.AdminServer
	if err := none.Handle("/x", http.NotFoundHandler()); err != nil || none.Addr() != nil {
		t.Errorf("a nil AdminServer: %v, %v", err, none.Addr())
	}
}
