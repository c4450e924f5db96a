package apptest_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apexgo/apex"
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
