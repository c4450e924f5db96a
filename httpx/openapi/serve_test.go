package openapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/httpx/openapi"
)

// Before Set, the document's paths answer a 503 problem with Retry-After;
// the UI page is served already.
func TestHandlerBeforeSet(t *testing.T) {
	t.Parallel()
	cfg := httpx.DefaultConfig()
	srv, err := httpx.New(httpx.Params{Config: cfg, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	h := openapi.NewHandler(cfg.OpenAPI, "t")
	h.Register(srv.Echo)
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		srv.Echo.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	for _, path := range []string{"/openapi.json", "/openapi.yaml"} {
		rec := get(path)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" ||
			rec.Header().Get("Content-Type") != httpx.ProblemContentType || !strings.Contains(rec.Body.String(), `"code":"unavailable"`) {
			t.Errorf("GET %s before Set: %d %v %s", path, rec.Code, rec.Header(), rec.Body)
		}
	}
	if rec := get("/docs"); rec.Code != http.StatusOK || rec.Header().Get("Content-Security-Policy") != h.UIContentSecurityPolicy() {
		t.Errorf("GET /docs: %d %q", rec.Code, rec.Header().Get("Content-Security-Policy"))
	}
}

// With no CSP configured, the UI page sends none either; the configured
// servers' origins may be called from the UI.
func TestHandlerCSP(t *testing.T) {
	t.Parallel()
	cfg := httpx.DefaultConfig()
	cfg.SecurityHeaders.ContentSecurityPolicy = ""
	cfg.OpenAPI.Servers = []string{"https://api.example.com/v1", "http://localhost:8080"}
	srv, err := httpx.New(httpx.Params{Config: cfg, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	h := openapi.NewHandler(cfg.OpenAPI, "t")
	h.Register(srv.Echo)
	rec := httptest.NewRecorder()
	srv.Echo.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/docs", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Security-Policy") != "" {
		t.Errorf("GET /docs without a configured CSP: %d %q", rec.Code, rec.Header().Get("Content-Security-Policy"))
	}
	if csp := h.UIContentSecurityPolicy(); !strings.Contains(csp, "connect-src 'self' https://api.example.com http://localhost:8080;") {
		t.Errorf("CSP %q", csp)
	}
}
