package hub_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/apexgo/apex/internal/testservice"
	"github.com/apexgo/apex/realtime/hub"
	"github.com/apexgo/apex/realtime/internal/wsclient"
	"github.com/apexgo/apex/realtime/memory"
	"github.com/apexgo/apex/realtime/redis"
)

const wait = 5 * time.Second

// tokens is a fake verifier: "ok:<subject>" is valid for an hour,
// "short:<subject>" for 2 seconds, "expired:<subject>" has expired, and
// revoked tokens are invalid.
type tokens struct {
	mu      sync.Mutex
	revoked map[string]bool
}

func (tk *tokens) revoke(tok string) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	tk.revoked[tok] = true
}

func (tk *tokens) verify(_ context.Context, tok string) (hub.Identity, error) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	kind, sub, ok := strings.Cut(tok, ":")
	switch {
	case !ok || tk.revoked[tok]:
		return hub.Identity{}, hub.ErrTokenInvalid
	case kind == "ok":
		return hub.Identity{Subject: sub, ExpiresAt: time.Now().Add(time.Hour)}, nil
	case kind == "short":
		return hub.Identity{Subject: sub, ExpiresAt: time.Now().Add(2 * time.Second)}, nil
	case kind == "expired":
		return hub.Identity{}, hub.ErrTokenExpired
	}
	return hub.Identity{}, hub.ErrTokenInvalid
}

type server struct {
	*hub.Hub
	URL string
	tk  *tokens
	reg *prometheus.Registry
}

// newServerFunc starts a hub on one backend behind an HTTP server.
type newServerFunc func(t testing.TB, mod func(*hub.Config)) *server

// newServer starts a hub on the memory backend.
func newServer(t testing.TB, mod func(*hub.Config)) *server {
	t.Helper()
	return newServerWith(t, mod, memory.New)
}

// newRedisServer returns a newServerFunc whose hubs share one Redis and
// one key prefix: instances of one app.
func newRedisServer(t testing.TB) newServerFunc {
	addr := testservice.Need(t, testservice.Redis)
	prefix := testservice.Unique("apexrthub")
	return func(t testing.TB, mod func(*hub.Config)) *server {
		t.Helper()
		return newServerWith(t, mod, func(cfg hub.Config) (*hub.Hub, error) {
			return redis.New(redis.Config{Addr: addr, Prefix: prefix}, cfg)
		})
	}
}

// onBackends runs test on the memory backend and on the real Redis.
func onBackends(t *testing.T, test func(t *testing.T, newServer newServerFunc)) {
	t.Run("memory", func(t *testing.T) { t.Parallel(); test(t, newServer) })
	t.Run("redis", func(t *testing.T) { t.Parallel(); test(t, newRedisServer(t)) })
}

func newServerWith(t testing.TB, mod func(*hub.Config), build func(hub.Config) (*hub.Hub, error)) *server {
	t.Helper()
	tk := &tokens{revoked: map[string]bool{}}
	reg := prometheus.NewRegistry()
	cfg := hub.Config{
		Authenticate: tk.verify,
		Registry:     reg,
		Namespaces: map[string]hub.Namespace{
			"room": {Public: true, Presence: true, JoinLeave: true, HistorySize: 100, HistoryTTL: time.Minute},
			"chat": {Public: true, Publish: true},
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := h.Handlers(nil)
	srv := httptest.NewServer(hs.WebSocket)
	t.Cleanup(func() {
		_ = h.Shutdown(context.Background())
		srv.Close()
	})
	return &server{Hub: h, URL: srv.URL, tk: tk, reg: reg}
}

func (s *server) dial(t *testing.T, header http.Header) *wsclient.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	c, err := wsclient.Dial(ctx, s.URL, header)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *server) connect(t *testing.T, token string) *wsclient.Conn {
	t.Helper()
	c := s.dial(t, nil)
	m, err := c.Connect(token, wait)
	if err != nil || m.Error != nil {
		t.Fatalf("connect %q: %v %+v", token, err, m.Error)
	}
	return c
}

func (s *server) refusals(reason string) float64 {
	mfs, _ := s.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "realtime_refusals_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func expectClose(t *testing.T, c *wsclient.Conn, code int) *wsclient.Close {
	t.Helper()
	cl, err := c.AwaitClose(wait)
	if err != nil {
		t.Fatalf("want close %d: %v", code, err)
	}
	if cl.Code != code || (cl.Reason == "" && code != 1009) {
		t.Fatalf("closed with %d %q; want %d with a reason", cl.Code, cl.Reason, code)
	}
	return cl
}

func TestAnonymousRefusedUnlessAllowed(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := s.dial(t, nil)
	if _, err := c.Send("connect", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	expectClose(t, c, hub.CodeAnonymous)
	if got := s.refusals("anonymous"); got != 1 {
		t.Fatalf("refusals{anonymous} = %v, want 1", got)
	}

	open := newServer(t, func(c *hub.Config) { c.AllowAnonymous = true })
	open.connect(t, "")
}

func TestInvalidTokenRefused(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := s.dial(t, nil)
	if _, err := c.Send("connect", map[string]any{"token": "forged"}); err != nil {
		t.Fatal(err)
	}
	expectClose(t, c, int(centrifuge.DisconnectInvalidToken.Code))
}

func TestUserChannelAndPublishToUser(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	alice := s.connect(t, "ok:alice")
	bob := s.connect(t, "ok:bob")
	if err := s.PublishToUser(t.Context(), "alice", []byte(`{"to":"alice"}`)); err != nil {
		t.Fatal(err)
	}
	m, err := alice.Await(func(m wsclient.Msg) bool { return m.Push != nil && m.Push.Pub != nil }, wait)
	if err != nil || m.Push.Channel != "user:alice" || string(m.Push.Pub.Data) != `{"to":"alice"}` {
		t.Fatalf("alice got %s, %v", m.Raw, err)
	}
	if m, err := bob.Await(func(m wsclient.Msg) bool { return m.Push != nil && m.Push.Pub != nil }, 300*time.Millisecond); err == nil {
		t.Fatalf("bob got alice's publication: %s", m.Raw)
	}
}

func TestAuthorization(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *hub.Config) { c.Limits.PublishRate, c.Limits.PublishBurst = 1, 2 })
	c := s.connect(t, "ok:alice")
	for ch, want := range map[string]*centrifuge.Error{
		"room:lobby": nil, "chat:x": nil,
		"secret:x": centrifuge.ErrorPermissionDenied, "user:bob": centrifuge.ErrorPermissionDenied,
		"nonamespace": centrifuge.ErrorPermissionDenied,
	} {
		m, err := c.Call("subscribe", map[string]any{"channel": ch}, wait)
		if err != nil {
			t.Fatal(err)
		}
		if (want == nil) != (m.Error == nil) || (want != nil && m.Error.Code != int(want.Code)) {
			t.Errorf("subscribe %s: %s; want error %v", ch, m.Raw, want)
		}
	}
	// Publishing: off in room, on (and rate-limited) in chat.
	if m, _ := c.Call("publish", map[string]any{"channel": "room:lobby", "data": map[string]any{"x": 1}}, wait); m.Error == nil || m.Error.Code != int(centrifuge.ErrorPermissionDenied.Code) {
		t.Errorf("publish into room: %s; want permission denied", m.Raw)
	}
	var limited bool
	for range 5 {
		m, err := c.Call("publish", map[string]any{"channel": "chat:x", "data": map[string]any{"x": 1}}, wait)
		if err != nil {
			t.Fatal(err)
		}
		if m.Error != nil {
			if m.Error.Code != int(centrifuge.ErrorTooManyRequests.Code) {
				t.Fatalf("publish into chat: %s", m.Raw)
			}
			limited = true
		}
	}
	if !limited || s.refusals("publish_rate") == 0 || s.refusals("forbidden_subscribe") != 3 {
		t.Fatalf("limited=%v, refusals publish_rate=%v forbidden_subscribe=%v", limited, s.refusals("publish_rate"), s.refusals("forbidden_subscribe"))
	}
}

func TestCustomAuthorizer(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *hub.Config) {
		def := hub.DefaultAuthorizer("user")
		c.Authorize = func(ctx context.Context, a hub.Access) error {
			if a.Namespace == "team" && a.Subject == "alice" {
				return nil
			}
			return def(ctx, a)
		}
	})
	c := s.connect(t, "ok:alice")
	if m, _ := c.Call("subscribe", map[string]any{"channel": "team:red"}, wait); m.Error != nil {
		t.Fatalf("alice into team:red: %s", m.Raw)
	}
	b := s.connect(t, "ok:bob")
	if m, _ := b.Call("subscribe", map[string]any{"channel": "team:red"}, wait); m.Error == nil {
		t.Fatal("bob into team:red: allowed")
	}
}

func TestOriginAllowlist(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *hub.Config) { c.Limits.AllowedOrigins = []string{"https://app.example"} })
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	_, err := wsclient.Dial(ctx, s.URL, http.Header{"Origin": {"https://evil.example"}})
	var he *wsclient.HandshakeError
	if !errors.As(err, &he) || he.Status != http.StatusForbidden {
		t.Fatalf("cross-site dial: %v; want 403", err)
	}
	if s.refusals("origin") != 1 {
		t.Fatalf("origin refusal not counted")
	}
	c := s.dial(t, http.Header{"Origin": {"https://app.example"}})
	if m, err := c.Connect("ok:alice", wait); err != nil || m.Error != nil {
		t.Fatalf("allowed origin: %v", err)
	}
}

func TestRevokedTokenDisconnected(t *testing.T) {
	onBackends(t, testRevokedTokenDisconnected)
}

func testRevokedTokenDisconnected(t *testing.T, newServer newServerFunc) {
	s := newServer(t, func(c *hub.Config) { c.RecheckInterval = 100 * time.Millisecond })
	c := s.connect(t, "ok:alice")
	other := s.connect(t, "ok:bob")
	s.tk.revoke("ok:alice")
	expectClose(t, c, hub.CodeRevoked)
	if _, err := other.Call("subscribe", map[string]any{"channel": "room:a"}, wait); err != nil {
		t.Fatalf("bob affected: %v", err)
	}
	// Counted by the server's disconnect handler, which may run just
	// after the client has read its close frame.
	for deadline := time.Now().Add(wait); s.refusals("revoked") == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if s.refusals("revoked") != 1 {
		t.Fatalf("revocation counted %v times, want once", s.refusals("revoked"))
	}
}

// Disconnect closes the subject's connections on every instance that
// shares the broker (another instance of the app on Redis).
func TestDisconnectSubject(t *testing.T) {
	onBackends(t, func(t *testing.T, newServer newServerFunc) {
		s := newServer(t, nil)
		from := s
		if strings.HasSuffix(t.Name(), "/redis") {
			from = newServer(t, nil) // another instance
		}
		c := s.connect(t, "ok:alice")
		bob := s.connect(t, "ok:bob")
		if err := from.Disconnect(t.Context(), "alice", "logged out"); err != nil {
			t.Fatal(err)
		}
		if cl := expectClose(t, c, hub.CodeDisconnected); cl.Reason != "logged out" {
			t.Fatalf("reason %q", cl.Reason)
		}
		if _, err := bob.Call("subscribe", map[string]any{"channel": "room:a"}, wait); err != nil {
			t.Fatalf("bob affected: %v", err)
		}
	})
}

func TestExpiredTokenAsksForRefresh(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := s.dial(t, nil)
	m, err := c.Connect("expired:alice", wait)
	if err != nil || m.Error == nil || m.Error.Code != int(centrifuge.ErrorTokenExpired.Code) {
		t.Fatalf("connect with an expired token: %s %v; want error %d (token expired: refresh)", m.Raw, err, centrifuge.ErrorTokenExpired.Code)
	}
	// A connection whose token expires refreshes it in place.
	c = s.connect(t, "short:alice")
	m, err = c.Call("refresh", map[string]any{"token": "ok:alice"}, wait)
	if err != nil || m.Error != nil || m.Refresh == nil {
		t.Fatalf("refresh: %s %v", m.Raw, err)
	}
	// Refreshing with another subject's token is refused.
	m2 := s.connect(t, "short:bob")
	if _, err := m2.Send("refresh", map[string]any{"token": "ok:mallory"}); err != nil {
		t.Fatal(err)
	}
	expectClose(t, m2, int(centrifuge.DisconnectInvalidToken.Code))
}

func TestConnectionLimits(t *testing.T) {
	onBackends(t, testConnectionLimits)
}

func testConnectionLimits(t *testing.T, newServer newServerFunc) {
	s := newServer(t, func(c *hub.Config) { c.Limits.MaxConnsPerSubject = 2; c.Limits.MaxConnsPerIP = 3 })
	s.connect(t, "ok:alice")
	s.connect(t, "ok:alice")
	c := s.dial(t, nil)
	_, _ = c.Send("connect", map[string]any{"token": "ok:alice"})
	expectClose(t, c, hub.CodeConnectionLimit)
	s.connect(t, "ok:bob")
	c = s.dial(t, nil)
	_, _ = c.Send("connect", map[string]any{"token": "ok:carol"})
	expectClose(t, c, hub.CodeConnectionLimit)
	if s.refusals("conns_per_subject") != 1 || s.refusals("conns_per_ip") != 1 {
		t.Fatalf("refusals not counted: %v %v", s.refusals("conns_per_subject"), s.refusals("conns_per_ip"))
	}
}

func TestDrainTellsClientsToReconnect(t *testing.T) {
	onBackends(t, testDrainTellsClientsToReconnect)
}

func testDrainTellsClientsToReconnect(t *testing.T, newServer newServerFunc) {
	s := newServer(t, nil)
	c := s.connect(t, "ok:alice")
	if err := s.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	expectClose(t, c, int(centrifuge.DisconnectShutdown.Code))
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	if _, err := wsclient.Dial(ctx, s.URL, nil); err == nil {
		t.Fatal("a new connection was accepted while draining")
	}
	// The server can still publish until Shutdown.
	if _, err := s.Publish(t.Context(), "room:x", []byte(`{}`)); err != nil {
		t.Fatalf("Publish while draining: %v", err)
	}
}

func TestRefusalsExported(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	s.connect(t, "ok:alice")
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var centrifugeMetrics int
	var conns float64
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "realtime_centrifuge_") {
			centrifugeMetrics++
		}
		if mf.GetName() == "realtime_connections" {
			conns = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	if centrifugeMetrics == 0 || conns != 1 {
		t.Fatalf("%d centrifuge metrics, realtime_connections %v in the given registry; want some and 1", centrifugeMetrics, conns)
	}
}
