package openapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/swaggest/jsonschema-go"
	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/httpx"
)

// With apex.Modules, every route of the app — apex's own (health,
// metrics, the queue's job status, realtime's endpoints) and the app's —
// is in the document served at /openapi.json, which validates.
func TestModuleListsEveryRoute(t *testing.T) {
	t.Parallel()
	var e *echo.Echo
	a := apptest.New(t, apex.Modules, apptest.With(
		fx.Provide(httpx.AsRoute(func() httpx.Route {
			return httpx.Route{Method: http.MethodGet, Path: "/orders/:id", Handler: func(c echo.Context) error { return c.NoContent(204) },
				Doc: httpx.Doc{Summary: "Get an order", Responses: map[int]any{http.StatusNoContent: nil}}}
		})),
		// Added to echo directly, after every module's registration.
		fx.Invoke(func(e *echo.Echo) { e.GET("/direct", func(c echo.Context) error { return c.NoContent(204) }) }),
		fx.Populate(&e),
	))
	r := a.Do(t, http.MethodGet, "/openapi.json", "")
	if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	doc := load(t, r.Body)
	n := 0
	for _, route := range e.Routes() {
		if route.Method == "echo_route_not_found" || route.Path == "/openapi.json" || route.Path == "/openapi.yaml" ||
			route.Path == "/docs" || strings.HasPrefix(route.Path, "/docs/") {
			continue
		}
		n++
		path, _ := strings.CutSuffix(route.Path, "/*")
		if path != route.Path {
			path += "/{path}"
		}
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		if item := doc.Paths.Find(path); item == nil || item.GetOperation(route.Method) == nil {
			t.Errorf("%s %s is not in the document", route.Method, route.Path)
		}
	}
	for _, p := range []string{"/livez", "/readyz", "/metrics", "/orders/{id}", "/direct"} {
		if doc.Paths.Find(p) == nil {
			t.Errorf("%s is not in the document", p)
		}
	}
	if n < 8 {
		t.Errorf("only %d routes served", n)
	}

	y := a.Do(t, http.MethodGet, "/openapi.yaml", "")
	if y.StatusCode != http.StatusOK || y.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("GET /openapi.yaml: %d %s", y.StatusCode, y.Header.Get("Content-Type"))
	}
	load(t, y.Body)

	etag := r.Header.Get("ETag")
	if nm := a.Do(t, http.MethodGet, "/openapi.json", "", "If-None-Match", etag); etag == "" || nm.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match %s: %d", etag, nm.StatusCode)
	}
}

// The UI is served from the binary; only its page gets a CSP that lets
// scripts run, and only the page's own.
func TestModuleUIAndCSP(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules)
	page := a.Do(t, http.MethodGet, "/docs", "")
	if page.StatusCode != http.StatusOK || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /docs: %d %s", page.StatusCode, page.Header.Get("Content-Type"))
	}
	csp := page.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") ||
		strings.Contains(csp, "http") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("the UI page's CSP: %q", csp)
	}
	for _, ref := range []string{`src="/docs/swagger-ui-bundle.js"`, `src="/docs/init.js"`, `href="/docs/swagger-ui.css"`} {
		if !strings.Contains(string(page.Body), ref) {
			t.Errorf("the page does not refer to %s", ref)
		}
	}
	for path, want := range map[string]string{
		"/docs/swagger-ui-bundle.js": "SwaggerUIBundle",
		"/docs/swagger-ui.css":       ".swagger-ui",
		"/docs/init.js":              `url: "/openapi.json"`,
	} {
		r := a.Do(t, http.MethodGet, path, "")
		if r.StatusCode != http.StatusOK || !strings.Contains(string(r.Body), want) {
			t.Errorf("GET %s: %d, %d bytes", path, r.StatusCode, len(r.Body))
		}
		if got := r.Header.Get("Content-Security-Policy"); got != httpx.DefaultCSP {
			t.Errorf("GET %s: CSP %q", path, got)
		}
	}
	for _, path := range []string{"/openapi.json", "/livez", "/nope"} {
		if got := a.Do(t, http.MethodGet, path, "").Header.Get("Content-Security-Policy"); got != httpx.DefaultCSP {
			t.Errorf("GET %s: CSP %q, want the default", path, got)
		}
	}
}

// http.openapi.enabled false (here through its environment variable):
// nothing is served.
func TestModuleOff(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules, apptest.Env("APP_HTTP__OPENAPI__ENABLED=false"))
	for _, path := range []string{"/openapi.json", "/openapi.yaml", "/docs", "/docs/swagger-ui-bundle.js"} {
		if r := a.Do(t, http.MethodGet, path, ""); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, r.StatusCode)
		}
	}
}

// Other paths, and no YAML nor UI.
func TestModulePaths(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules, apptest.Config(map[string]any{
		"http.openapi.json_path": "/api/spec.json", "http.openapi.yaml_path": "", "http.openapi.ui_path": "",
		"http.openapi.title": "Orders", "http.openapi.version": "2.0.0",
	}))
	r := a.Do(t, http.MethodGet, "/api/spec.json", "")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/spec.json: %d", r.StatusCode)
	}
	doc := load(t, r.Body)
	if doc.Info.Title != "Orders" || doc.Info.Version != "2.0.0" {
		t.Errorf("info: %q %q", doc.Info.Title, doc.Info.Version)
	}
	for _, path := range []string{"/openapi.json", "/openapi.yaml", "/docs"} {
		if r := a.Do(t, http.MethodGet, path, ""); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, r.StatusCode)
		}
	}
}

// Bad values stop the start, naming the key.
func TestModuleBadConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		config map[string]any
		key    string
	}{
		{map[string]any{"http.openapi.json_path": "spec.json"}, "http.openapi.json_path"},
		{map[string]any{"http.openapi.json_path": ""}, "http.openapi.json_path"},
		{map[string]any{"http.openapi.ui_path": "/openapi.json"}, "http.openapi.ui_path"},
		{map[string]any{"http.openapi.yaml_path": "/openapi.json"}, "http.openapi.yaml_path"},
		{map[string]any{"http.openapi.servers": []string{"not a url"}}, "http.openapi.servers"},
		{map[string]any{"http.openapi.enabled": "maybe"}, "http.openapi.enabled"},
	} {
		_, err := apptest.Start(t, apex.Modules, apptest.Config(c.config))
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%v: %v, want an error naming %s", c.config, err, c.key)
		}
	}
}

// A wrong Doc is a start error naming the route.
func TestModuleBadDoc(t *testing.T) {
	t.Parallel()
	route := func(method, path string, d httpx.Doc) fx.Option {
		return fx.Provide(httpx.AsRoute(func() httpx.Route {
			return httpx.Route{Method: method, Path: path, Handler: func(c echo.Context) error { return nil }, Doc: d}
		}))
	}
	for _, c := range []struct {
		name string
		opts []fx.Option
		want []string
	}{
		{"duplicate operation ID", []fx.Option{
			route(http.MethodGet, "/a", httpx.Doc{OperationID: "same"}),
			route(http.MethodGet, "/b", httpx.Doc{OperationID: "same"}),
		}, []string{"GET /a", "GET /b", `"same"`}},
		{"unreflectable type", []fx.Option{
			route(http.MethodPost, "/c", httpx.Doc{Request: struct {
				C chan int `json:"c"`
			}{}}),
		}, []string{"POST /c"}},
		{"param not in the path", []fx.Option{
			route(http.MethodGet, "/d", httpx.Doc{Request: struct {
				ID string `param:"id"`
			}{}}),
		}, []string{"GET /d", "id"}},
		{"bad status", []fx.Option{
			route(http.MethodGet, "/e", httpx.Doc{Responses: map[int]any{2000: nil}}),
		}, []string{"GET /e", "2000"}},
	} {
		_, err := apptest.Start(t, apex.Modules, apptest.With(c.opts...))
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v, want an error with %q", c.name, err, w)
			}
		}
	}
}

// listenProbe records, when jsonschema-go reflects it, whether the
// server was listening then.
type listenProbe struct {
	Name string `json:"name"`
}

var probe struct {
	server    *httpx.Server
	listening []bool
}

func (listenProbe) PrepareJSONSchema(*jsonschema.Schema) error {
	probe.listening = append(probe.listening, probe.server.Addr() != nil)
	return nil
}

// With apex.Modules, the document is generated before the server
// listens, so that a bad Doc stops the start before any request is
// served.
func TestModuleGeneratesBeforeListening(t *testing.T) {
	// Not parallel: probe is shared.
	apptest.New(t, apex.Modules, apptest.With(
		fx.Provide(httpx.AsRoute(func() httpx.Route {
			return httpx.Route{Method: http.MethodPost, Path: "/probe", Handler: func(c echo.Context) error { return nil },
				Doc: httpx.Doc{Request: listenProbe{}}}
		})),
		fx.Populate(&probe.server),
	))
	if len(probe.listening) == 0 || slices.Contains(probe.listening, true) {
		t.Errorf("reflected while listening: %v", probe.listening)
	}
	if probe.server.Addr() == nil {
		t.Error("the server does not listen after the start")
	}
}
