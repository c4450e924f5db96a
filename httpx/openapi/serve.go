package openapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/apexgo/apex/httpx"
)

// ui holds Swagger UI (swagger-ui-dist, Apache-2.0, see ui/LICENSE and
// ui/NOTICE), gzipped; ui/update.sh replaces it with another version.
//
//go:embed ui/swagger-ui-bundle.js.gz ui/swagger-ui.css.gz ui/VERSION
var ui embed.FS

// UIVersion is the version of the embedded Swagger UI.
var UIVersion = strings.TrimSpace(string(mustRead("ui/VERSION")))

func mustRead(name string) []byte {
	b, err := ui.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	return b
}

// asset is an embedded UI file: gz as embedded, data unzipped on first
// use, for a client that does not take gzip.
type asset struct {
	contentType string
	data        func() []byte
	gz          []byte // nil: data only
}

func gunzipped(name string) func() []byte {
	return sync.OnceValue(func() []byte {
		zr, err := gzip.NewReader(bytes.NewReader(mustRead(name)))
		if err != nil {
			panic(fmt.Sprintf("openapi: embedded %s: %v", name, err))
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			panic(fmt.Sprintf("openapi: embedded %s: %v", name, err))
		}
		return b
	})
}

var (
	bundleJS = asset{"text/javascript; charset=utf-8", gunzipped("ui/swagger-ui-bundle.js.gz"), mustRead("ui/swagger-ui-bundle.js.gz")}
	uiCSS    = asset{"text/css; charset=utf-8", gunzipped("ui/swagger-ui.css.gz"), mustRead("ui/swagger-ui.css.gz")}
)

// Handler serves a [Document] as JSON and YAML and the docs UI, at the
// paths of an httpx.OpenAPIConfig. Until [Handler.Set] gives it a
// document, the document's paths answer a 503 problem with Retry-After.
// The responses are byte slices made once: serving costs no encoding.
type Handler struct {
	cfg   httpx.OpenAPIConfig
	doc   atomic.Pointer[served]
	index []byte
	init  []byte
	csp   string
}

type served struct {
	json, yaml []byte
	etag       string
}

// NewHandler returns a Handler for cfg. The title is the UI page's.
func NewHandler(cfg httpx.OpenAPIConfig, title string) *Handler {
	h := &Handler{cfg: cfg}
	if cfg.UIPath == "" {
		return h
	}
	base := strings.TrimSuffix(cfg.UIPath, "/")
	h.index = []byte(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>` + html.EscapeString(title) + `</title>
<link rel="stylesheet" href="` + html.EscapeString(base) + `/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="` + html.EscapeString(base) + `/swagger-ui-bundle.js"></script>
<script src="` + html.EscapeString(base) + `/init.js"></script>
</body>
</html>
`)
	specURL, _ := json.Marshal(cfg.JSONPath)
	h.init = []byte(`window.ui = SwaggerUIBundle({
  url: ` + string(specURL) + `,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
`)
	// The page runs only its own scripts; "try it out" may call this
	// origin and the configured servers.
	connect := []string{"'self'"}
	for _, s := range cfg.Servers {
		if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
			connect = append(connect, u.Scheme+"://"+u.Host)
		}
	}
	h.csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"font-src 'self' data:; connect-src " + strings.Join(connect, " ") + "; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
	return h
}

// UIContentSecurityPolicy is the Content-Security-Policy of the UI page,
// which replaces http.security_headers.content_security_policy there when
// one is set; "" when the UI is off.
func (h *Handler) UIContentSecurityPolicy() string { return h.csp }

// Set makes h serve d. It is safe to call while h serves requests.
func (h *Handler) Set(d *Document) {
	h.doc.Store(&served{json: d.json, yaml: d.yaml, etag: etagOf(d.json)})
}

func etagOf(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// Register adds h's routes to e: the JSON and YAML documents and the UI
// page with its assets, those of cfg's paths that are set.
func (h *Handler) Register(e *echo.Echo) {
	e.GET(h.cfg.JSONPath, func(c echo.Context) error { return h.serveDoc(c, false) })
	if h.cfg.YAMLPath != "" {
		e.GET(h.cfg.YAMLPath, func(c echo.Context) error { return h.serveDoc(c, true) })
	}
	if h.cfg.UIPath == "" {
		return
	}
	base := strings.TrimSuffix(h.cfg.UIPath, "/")
	e.GET(h.cfg.UIPath, h.serveIndex)
	e.GET(base+"/swagger-ui-bundle.js", serveAsset(bundleJS))
	e.GET(base+"/swagger-ui.css", serveAsset(uiCSS))
	e.GET(base+"/init.js", serveAsset(asset{"text/javascript; charset=utf-8", func() []byte { return h.init }, nil}))
}

func (h *Handler) serveDoc(c echo.Context, yaml bool) error {
	d := h.doc.Load()
	if d == nil {
		p := httpx.NewProblem(http.StatusServiceUnavailable, "the OpenAPI document is not generated yet")
		p.Code = httpx.CodeUnavailable
		p.Header = http.Header{"Retry-After": {"1"}}
		return p
	}
	hdr := c.Response().Header()
	hdr.Set(echo.HeaderCacheControl, "no-cache")
	hdr.Set("ETag", d.etag)
	if notModified(c, d.etag) {
		return c.NoContent(http.StatusNotModified)
	}
	if yaml {
		return c.Blob(http.StatusOK, "application/yaml", d.yaml)
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, d.json)
}

func (h *Handler) serveIndex(c echo.Context) error {
	hdr := c.Response().Header()
	// Relax the CSP only here, and only if the stack sent one.
	if hdr.Get("Content-Security-Policy") != "" {
		hdr.Set("Content-Security-Policy", h.csp)
	}
	hdr.Set(echo.HeaderCacheControl, "no-cache")
	return c.HTMLBlob(http.StatusOK, h.index)
}

func serveAsset(a asset) echo.HandlerFunc {
	etag := sync.OnceValue(func() string { return etagOf(a.data()) })
	gzETag := ""
	if a.gz != nil {
		gzETag = etagOf(a.gz)
	}
	return func(c echo.Context) error {
		hdr := c.Response().Header()
		hdr.Set(echo.HeaderCacheControl, "public, max-age=3600")
		if a.gz != nil {
			if w, ok := gzipWriter(c); ok {
				// Send the embedded gzip as it is, around the gzip
				// middleware, rather than unzip and zip 1.7 MB again.
				hdr.Set("ETag", gzETag)
				if notModified(c, gzETag) {
					return c.NoContent(http.StatusNotModified)
				}
				c.Response().Writer = w
				hdr.Set(echo.HeaderContentEncoding, "gzip")
				return c.Blob(http.StatusOK, a.contentType, a.gz)
			}
		}
		tag := etag()
		hdr.Set("ETag", tag)
		if notModified(c, tag) {
			return c.NoContent(http.StatusNotModified)
		}
		return c.Blob(http.StatusOK, a.contentType, a.data())
	}
}

func notModified(c echo.Context, etag string) bool {
	inm := c.Request().Header.Get("If-None-Match")
	return inm != "" && strings.Contains(inm, etag)
}

// gzipWriter returns the writer under echo's gzip middleware when it
// wraps this response (the client accepts gzip and http.gzip is on).
// Written to directly, with Content-Encoding: gzip, it carries gzipped
// bytes as they are; the middleware, having seen no write, adds nothing.
// Any other writer is left alone.
func gzipWriter(c echo.Context) (http.ResponseWriter, bool) {
	w := c.Response().Writer
	if fmt.Sprintf("%T", w) != "*middleware.gzipResponseWriter" {
		return nil, false
	}
	u, ok := w.(interface{ Unwrap() http.ResponseWriter })
	if !ok {
		return nil, false
	}
	return u.Unwrap(), true
}
