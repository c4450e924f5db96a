package observe_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app/apptest"
)

// At info level fx says one line when started and one when stopped.
func TestEventLogQuietAtInfo(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules, apptest.Env("APP_OBSERVE__LOG__LEVEL=info"))
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	var info []string
	for _, e := range a.Logs.All() {
		if e.LoggerName == "fx" && e.Level >= zapcore.InfoLevel {
			info = append(info, e.Message)
			if _, ok := e.ContextMap()["took"]; !ok && e.Message != "stopping" {
				t.Errorf("%q has no duration", e.Message)
			}
		}
	}
	if len(info) != 2 || info[0] != "started" || info[1] != "stopped" {
		t.Fatalf("fx info lines: %q", info)
	}
	if len(a.Logs.FilterLoggerName("fx").All()) <= 2 {
		t.Fatal("fx's other events should be there at debug level")
	}
}

type widget struct{}

// slowStart appends a start hook that waits for its context to end.
func slowStart(lc fx.Lifecycle) {
	lc.Append(fx.StartHook(func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}))
}

// A failed start is one ERROR line: the root cause, not fx's chain of
// constructors and source files, with the setting and its variable when
// the cause names one, and the hook when a hook failed.
func TestStartFailureIsOneLine(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	cases := []struct {
		name  string
		opts  []apptest.Option
		error string
		more  map[string]string
	}{
		{"constructor", []apptest.Option{apptest.With(
			fx.Provide(func() (*widget, error) { return nil, errors.New("widget.url: cannot reach the widget service") }),
			fx.Invoke(func(*widget) {}),
		)}, "widget.url: cannot reach the widget service", map[string]string{"setting": "widget.url", "env": "APP_WIDGET__URL"}},
		{"hook", []apptest.Option{apptest.Config(map[string]any{"http.addr": busy.Addr().String()})},
			"http.addr: listen on", map[string]string{"setting": "http.addr", "env": "APP_HTTP__ADDR", "hook": "github.com/apexgo/apex/httpx.newServer"}},
		{"start_timeout", []apptest.Option{apptest.Config(map[string]any{"service.start_timeout": "200ms"}), apptest.With(fx.Invoke(slowStart))},
			"service.start_timeout (APP_SERVICE__START_TIMEOUT): the start did not finish within 200ms",
			map[string]string{"setting": "service.start_timeout", "env": "APP_SERVICE__START_TIMEOUT", "hook": "github.com/apexgo/apex/observe_test.slowStart"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a, err := apptest.Start(t, apex.Modules, c.opts...)
			if err == nil {
				t.Fatalf("started on %s", a.URL)
			}
			var loud []observer.LoggedEntry
			for _, e := range a.Logs.All() {
				if e.Level >= zapcore.ErrorLevel || (e.Level >= zapcore.WarnLevel && e.LoggerName == "fx") {
					loud = append(loud, e)
				}
			}
			lines := a.LogLines()
			if len(loud) != 1 || loud[0].Level != zapcore.ErrorLevel || loud[0].LoggerName != "fx" {
				t.Fatalf("want one ERROR line (from fx), got %d:\n%s", len(loud), strings.Join(lines, "\n"))
			}
			m := loud[0].ContextMap()
			if msg := fmt.Sprint(m["error"]); !strings.HasPrefix(msg, c.error) || strings.Contains(msg, "received non-nil") ||
				strings.Contains(msg, ".go:") || m["errorVerbose"] != nil {
				t.Errorf("error field: %v", m)
			}
			for k, v := range c.more {
				if m[k] != v {
					t.Errorf("%s = %v, want %q (line %v)", k, m[k], v, m)
				}
			}
		})
	}
}
