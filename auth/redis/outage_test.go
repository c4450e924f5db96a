package redis_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/auth/redis"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/internal/redisconn"
	"github.com/apexgo/apex/internal/testservice"
)

// cut is a TCP forwarder to Redis that can be cut: listener and every
// connection closed, as when Redis goes away.
type cut struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func forward(t *testing.T, target string) *cut {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cut{ln: ln}
	c.wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.DialTimeout("tcp", target, 2*time.Second)
			if err != nil {
				_ = in.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, in, out)
			c.mu.Unlock()
			c.wg.Go(func() { _, _ = io.Copy(out, in); _ = out.Close() })
			c.wg.Go(func() { _, _ = io.Copy(in, out); _ = in.Close() })
		}
	})
	t.Cleanup(c.down)
	return c
}

func (c *cut) down() {
	_ = c.ln.Close()
	c.mu.Lock()
	for _, x := range c.conns {
		_ = x.Close()
	}
	c.conns = nil
	c.mu.Unlock()
	c.wg.Wait()
}

// With Redis gone, Verify and Refresh fail promptly with ErrUnavailable:
// never "valid", never "invalid token" (which would make a client drop
// its tokens).
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	fw := forward(t, addr)
	cfg := redisconn.DefaultConfig()
	cfg.Addr, cfg.DialTimeout, cfg.CommandTimeout = fw.ln.Addr().String(), time.Second, time.Second
	client, err := redisconn.New(t.Context(), cfg, redisconn.Params{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	p := prefix(t, connect(t, addr))
	rc := redis.Config{Prefix: p, CommandTimeout: 500 * time.Millisecond}
	rv, _ := redis.NewRevocations(client, rc)
	rf, _ := redis.NewRefresh(client, rc)
	ac := auth.DefaultConfig()
	ac.Issuer, ac.Audience, ac.VerifyCacheSize = "t", "t", 0
	ac.Secret = app.NewSecret("0123456789abcdef0123456789abcdef")
	j, err := auth.New(auth.Params{Config: ac, Revocations: rv, Refresh: rf})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := j.Issue(t.Context(), auth.Principal{Subject: "s"})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := j.Issue(t.Context(), auth.Principal{Subject: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Verify(t.Context(), pair.AccessToken); err != nil {
		t.Fatal(err)
	}

	g, err := auth.NewGuard(auth.GuardParams{Tokens: j})
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpx.NewErrorHandler(zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = h.Handle
	e.GET("/me", func(c echo.Context) error { return c.NoContent(http.StatusOK) }, g.Authenticate())

	fw.down()
	start := time.Now()
	_, err = j.Verify(t.Context(), fresh.AccessToken) // never checked: not in the local cache
	if !errors.Is(err, auth.ErrUnavailable) || errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("Verify with Redis down: %v, want ErrUnavailable", err)
	}
	// Through the Guard: 503 with Retry-After, not 401.
	req := httptest.NewRequest(http.MethodGet, "/me", nil)
	req.Header.Set("Authorization", "Bearer "+fresh.AccessToken)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("a request with Redis down: %d %v, want 503 with Retry-After", rec.Code, rec.Header())
	}
	_, err = j.Refresh(t.Context(), pair.RefreshToken)
	if !errors.Is(err, auth.ErrUnavailable) || errors.Is(err, auth.ErrInvalidRefresh) {
		t.Fatalf("Refresh with Redis down: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("failing calls took %v", d)
	}
}
