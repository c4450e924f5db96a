package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/httpx"
)

// downTokens is a Tokens whose store is unreachable.
type downTokens struct{ auth.Tokens }

func (downTokens) Verify(context.Context, string) (auth.Identity, error) {
	return auth.Identity{}, errors.Join(auth.ErrUnavailable, errors.New("redis: connection refused"))
}

// A store outage answers 503 to every request but logs one ERROR, not
// one per request (from the Guard or from the error handler).
func TestGuardOutageLogsOnce(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.ErrorLevel)
	log := zap.New(core)
	g, err := auth.NewGuard(auth.GuardParams{Tokens: downTokens{}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := httpx.New(httpx.Params{Config: httpx.DefaultConfig(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	srv.Echo.GET("/me", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }, g.Authenticate())
	for range 20 {
		req := httptest.NewRequest(http.MethodGet, "/me", nil)
		req.Header.Set("Authorization", "Bearer a.b.c")
		rec := httptest.NewRecorder()
		srv.Echo.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("store down: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
		}
	}
	if n := logs.Len(); n != 1 {
		for _, e := range logs.All() {
			t.Log(e.Message)
		}
		t.Fatalf("%d ERROR lines for 20 requests during an outage, want 1", n)
	}
}
