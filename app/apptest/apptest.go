// Package apptest starts an apex app inside a Go test: on the embedded
// fallbacks, on an ephemeral port, with its environment isolated from the
// process's, logs and spans captured, and nothing written outside
// t.TempDir(). It runs the modules it is given (apex.Modules, or
// apex.Without(...) in a slice) and imports none of them: it captures logs
// by decorating the app's zapcore.Core, spans by supplying an
// sdktrace.SpanProcessor, and finds the server through its *echo.Echo.
// apex's own tests use it, and so can yours:
//
//	func TestCreateOrder(t *testing.T) {
//		a := apptest.New(t, apex.Modules, apptest.With(fx.Provide(httpx.AsRoute(NewCreateOrder))))
//		resp := a.Do(t, http.MethodPost, "/orders", `{"sku":"A1"}`)
//		if resp.StatusCode != http.StatusCreated {
//			t.Fatalf("%d %s", resp.StatusCode, resp.Body)
//		}
//		a.WaitForLog(t, "order created", time.Second)
//		if len(a.Spans()) == 0 {
//			t.Fatal("no span")
//		}
//	}
package apptest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/apexgo/apex/app"
)

// Option configures [New].
type Option func(*settings)

type settings struct {
	config    map[string]any
	environ   []string
	configDir string
	modules   []fx.Option
	extra     []fx.Option
	timeout   time.Duration
}

// Config sets config keys (dotted, as in YAML), applied over every layer.
func Config(values map[string]any) Option {
	return func(s *settings) {
		for k, v := range values {
			s.config[k] = v
		}
	}
}

// Env sets environment variables (KEY=value) the app sees. The process
// environment is never read.
func Env(kv ...string) Option {
	return func(s *settings) { s.environ = append(s.environ, kv...) }
}

// ConfigDir reads default.yaml and test.yaml from dir instead of an empty
// temporary directory.
func ConfigDir(dir string) Option { return func(s *settings) { s.configDir = dir } }

// With adds fx options: the code under test, fx.Decorate or fx.Replace of
// a port, fx.Populate to reach a value.
func With(opts ...fx.Option) Option { return func(s *settings) { s.extra = append(s.extra, opts...) } }

// StartTimeout bounds the start; default 15s.
func StartTimeout(d time.Duration) Option { return func(s *settings) { s.timeout = d } }

// App is a started apex app.
type App struct {
	// URL is the HTTP server's base URL, "" when the app has no server.
	URL string
	// Client is an HTTP client for URL with a 10s timeout.
	Client *http.Client
	// Logs holds every log entry, at debug level and above.
	Logs *observer.ObservedLogs
	// LogFile is where the app's own log output goes (JSON lines).
	LogFile string

	spans *tracetest.InMemoryExporter
	fx    *fx.App
	t     testing.TB
	stop  func() error
}

// New starts an app and stops it when the test ends; a start failure
// fails the test.
func New(t testing.TB, modules []fx.Option, opts ...Option) *App {
	t.Helper()
	a, err := Start(t, modules, opts...)
	if err != nil {
		t.Fatalf("apptest: start: %v", err)
	}
	return a
}

// Start is New for tests that expect the start to fail: it returns the
// error instead. The *App is returned in both cases, so that a test can
// read the logs of a failed start; only a started one serves requests.
func Start(t testing.TB, modules []fx.Option, opts ...Option) (*App, error) {
	t.Helper()
	dir := t.TempDir()
	s := &settings{
		config:    map[string]any{},
		configDir: dir,
		environ:   []string{},
		modules:   modules,
		timeout:   15 * time.Second,
	}
	for _, o := range opts {
		o(s)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	a := &App{
		t: t, LogFile: filepath.Join(dir, "app.log"), Logs: logs,
		spans: tracetest.NewInMemoryExporter(), Client: &http.Client{Timeout: 10 * time.Second},
		stop: func() error { return nil },
	}
	var e *echo.Echo
	fxOpts := append([]fx.Option{}, s.modules...)
	fxOpts = append(fxOpts,
		fx.Supply(&app.LoadParams{Dir: s.configDir, Env: app.Test, DotEnv: "-", Environ: s.environ, Overrides: s.overrides(dir, a.LogFile)}),
		// The log core and the span exporter are the observe module's
		// extension points, reached through zap's and OpenTelemetry's types.
		fx.Decorate(func(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, core) }),
		fx.Provide(func() sdktrace.SpanProcessor { return sdktrace.NewSimpleSpanProcessor(a.spans) }),
		fx.Invoke(func(p struct {
			fx.In
			Echo *echo.Echo `optional:"true"`
		}) {
			e = p.Echo
		}),
	)
	fxOpts = append(fxOpts, s.extra...)
	a.fx = fx.New(fxOpts...)
	if err := a.fx.Err(); err != nil {
		return a, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if err := a.fx.Start(ctx); err != nil {
		return a, err
	}
	stopped := false
	a.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return a.fx.Stop(ctx)
	}
	t.Cleanup(func() {
		if err := a.stop(); err != nil {
			t.Errorf("apptest: stop: %v", err)
		}
	})
	if e != nil && e.ListenerAddr() != nil {
		a.URL = "http://" + e.ListenerAddr().String()
	}
	return a, nil
}

// overrides are the config values every test app runs with, under the
// test's own.
func (s *settings) overrides(dir, logFile string) map[string]any {
	base := map[string]any{
		"http.addr":             "127.0.0.1:0",
		"observe.log.output":    logFile,
		"observe.log.format":    "json",
		"observe.alerts.window": "0s",
	}
	// The data module's SQLite fallback defaults to var/apex.db in the
	// working directory: when the app has that module and the test set
	// neither data.dsn nor data.sqlite_path, the file goes under
	// t.TempDir() instead, so that tests leave nothing behind.
	if strings.Contains(fmt.Sprint(s.modules, s.extra), `fx.Module("data"`) {
		base["data.sqlite_path"] = filepath.Join(dir, "apex.db")
	}
	for k, v := range s.config {
		base[k] = v
	}
	return base
}

// Stop stops the app now, within its stop budget; later calls return nil.
func (a *App) Stop() error { return a.stop() }

// Do sends a request to the app with an optional JSON body and returns the
// response with its body read; a transport error fails the test.
func (a *App) Do(t testing.TB, method, path, body string, header ...string) Response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.URL+path, r)
	if err != nil {
		t.Fatalf("apptest: %v", err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := a.Client.Do(req)
	if err != nil {
		t.Fatalf("apptest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("apptest: read body: %v", err)
	}
	return Response{Response: resp, Body: b}
}

// Response is an HTTP response with its body already read.
type Response struct {
	*http.Response
	// Body is the whole response body (already closed).
	Body []byte
}

// JSON decodes the body into v, failing the test on error.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("apptest: decode %q: %v", r.Body, err)
	}
}

// Spans returns the spans ended so far.
func (a *App) Spans() tracetest.SpanStubs { return a.spans.GetSpans() }

// LogLines returns every captured entry encoded as one JSON line, fields
// included, for assertions that no line contains something.
func (a *App) LogLines() []string {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	var out []string
	for _, e := range a.Logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			out = append(out, fmt.Sprintf("unencodable entry %q: %v", e.Message, err))
			continue
		}
		out = append(out, buf.String())
		buf.Free()
	}
	return out
}

// WaitForLog waits up to timeout for an entry with the message and
// returns it; it fails the test when none comes.
func (a *App) WaitForLog(t testing.TB, message string, timeout time.Duration) observer.LoggedEntry {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if es := a.Logs.FilterMessage(message).All(); len(es) > 0 {
			return es[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("apptest: no log entry %q within %v", message, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
