package apptest_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/app/apptest"
)

// A secret set through the environment must not appear in any log line of
// a whole start and stop, debug level included.
func TestSecretFromEnvNeverLogged(t *testing.T) {
	t.Parallel()
	const secret = "https://hooks.example.invalid/T0/B0/s3cr3t-webhook-token"
	a := apptest.New(t, apex.Modules, apptest.Env(
		"APP_OBSERVE__ALERTS__WEBHOOK_URL="+secret,
		"APP_OBSERVE__TRACING__HEADERS__AUTHORIZATION=Bearer s3cr3t-webhook-token",
	), apptest.Config(map[string]any{"observe.log.level": "debug"}))
	if r := a.Do(t, http.MethodGet, "/readyz", ""); r.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d %s", r.StatusCode, r.Body)
	}
	a.Do(t, http.MethodGet, "/no-such-route", "")
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(a.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := append(a.LogLines(), strings.Split(string(file), "\n")...)
	if len(lines) < 3 {
		t.Fatalf("expected a full start/stop log, got %d lines", len(lines))
	}
	for _, l := range lines {
		if strings.Contains(l, "s3cr3t-webhook-token") {
			t.Fatalf("secret in log line: %s", l)
		}
	}
}

func TestStartFailureIsReturned(t *testing.T) {
	t.Parallel()
	_, err := apptest.Start(t, apex.Modules, apptest.Config(map[string]any{"http.addr": "not-an-address", "observe.log.level": "loud"}))
	if err == nil {
		t.Fatal("bad config started")
	}
	for _, want := range []string{"http.addr (APP_HTTP__ADDR)", "observe.log.level (APP_OBSERVE__LOG__LEVEL)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// A misspelled section is not silent: it is logged at WARN.
func TestUnknownSectionWarned(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules, apptest.Env("APP_HTPP__ADDR=:1", "APP_OBSERVE_LOG_LEVEL=debug"))
	e := a.WaitForLog(t, "config has top-level keys that no module reads (a misspelled section, or APP_X_Y with one underscore where APP_X__Y was meant)", time.Second)
	keys := fmt.Sprint(e.ContextMap()["keys"])
	if !strings.Contains(keys, "htpp") || !strings.Contains(keys, "observe_log_level") {
		t.Fatalf("keys: %s", keys)
	}
}

// The kit captures logs and spans through zap's and OpenTelemetry's types:
// an app without the observe module (or without HTTP) still starts under it.
func TestAppWithoutObserveStarts(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, []fx.Option{app.Module})
	if a.URL != "" || len(a.Spans()) != 0 {
		t.Fatalf("URL %q, %d spans", a.URL, len(a.Spans()))
	}
}

// Spans of a request are readable as soon as the response is in, and the
// captured logs include fx's own lines, written before the app's logger
// is handed out.
func TestSpansAndLogsCaptured(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules)
	if a.URL == "" {
		t.Fatal("no URL")
	}
	if r := a.Do(t, http.MethodGet, "/no-such-route", ""); r.StatusCode != http.StatusNotFound {
		t.Fatalf("%d %s", r.StatusCode, r.Body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(a.Spans()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no span captured")
		}
		time.Sleep(5 * time.Millisecond)
	}
	a.WaitForLog(t, "started", time.Second)
}
