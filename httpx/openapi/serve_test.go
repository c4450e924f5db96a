package openapi_test

import (
	"bytes"
	"compress/gzip"
	"io"
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

// The UI's bundle goes out as embedded, gzipped once, to a client that
// takes gzip (around httpx's gzip middleware), and unzipped to one that
// does not.
func TestHandlerAssetsGzip(t *testing.T) {
	t.Parallel()
	for _, gzipOn := range []bool{true, false} {
		cfg := httpx.DefaultConfig()
		cfg.Gzip.Enabled = gzipOn
		srv, err := httpx.New(httpx.Params{Config: cfg, Log: zaptest.NewLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		openapi.NewHandler(cfg.OpenAPI, "t").Register(srv.Echo)
		for _, accept := range []string{"gzip, deflate", ""} {
			req := httptest.NewRequest(http.MethodGet, "/docs/swagger-ui-bundle.js", nil)
			if accept != "" {
				req.Header.Set("Accept-Encoding", accept)
			}
			rec := httptest.NewRecorder()
			srv.Echo.ServeHTTP(rec, req)
			body := rec.Body.Bytes()
			// The headers as sent (the middleware's later changes to the
			// map reach no client).
			sent := rec.Result().Header
			zipped := sent.Get("Content-Encoding") == "gzip"
			if want := gzipOn && accept != ""; zipped != want {
				t.Errorf("gzip %v, Accept-Encoding %q: Content-Encoding %q", gzipOn, accept, sent.Get("Content-Encoding"))
			}
			if zipped {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if rec.Code != http.StatusOK || !bytes.Contains(body, []byte("SwaggerUIBundle")) || len(body) < 1<<20 {
				t.Errorf("gzip %v, Accept-Encoding %q: %d, %d bytes", gzipOn, accept, rec.Code, len(body))
			}
			if ct := sent.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			etag := sent.Get("ETag")
			req.Header.Set("If-None-Match", etag)
			rec = httptest.NewRecorder()
			srv.Echo.ServeHTTP(rec, req)
			if rec.Code != http.StatusNotModified {
				t.Errorf("If-None-Match %s: %d", etag, rec.Code)
			}
		}
	}
}
