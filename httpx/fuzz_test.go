package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/observe"
)

// Whatever a client sends as X-Request-ID, the ID the server uses and
// echoes is sane: 1-64 printable ASCII characters, no spaces.
func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"", "abc-123", "has space", "\x00\x01", "ünïcode", string(make([]byte, 100)), "a\r\nSet-Cookie: x=y"} {
		f.Add(s)
	}
	srv, err := httpx.New(httpx.Params{Config: httpx.DefaultConfig(), Log: zap.NewNop()})
	if err != nil {
		f.Fatal(err)
	}
	e := srv.Echo
	var seen string
	e.GET("/", func(c echo.Context) error {
		seen = observe.RequestID(c.Request().Context())
		return c.NoContent(http.StatusNoContent)
	})
	f.Fuzz(func(t *testing.T, id string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header["X-Request-Id"] = []string{id}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		got := rec.Header().Get("X-Request-ID")
		if !httpx.SaneRequestID(got) || got != seen {
			t.Fatalf("client sent %q, server used %q and echoed %q", id, seen, got)
		}
		if httpx.SaneRequestID(id) && got != id {
			t.Fatalf("sane ID %q replaced by %q", id, got)
		}
	})
}
