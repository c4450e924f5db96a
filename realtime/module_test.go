package realtime_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/internal/testservice"
	"github.com/apexgo/apex/realtime"
	"github.com/apexgo/apex/realtime/internal/wsclient"
)

const secret = "0123456789abcdef0123456789abcdef-realtime"

type deps struct {
	fx.In
	Hub    realtime.Hub
	Tokens auth.Tokens
	Sinks  []app.JobEventSink `group:"apex.job_event_sinks"`
}

func start(t *testing.T, cfg map[string]any) (*apptest.App, deps) {
	t.Helper()
	base := map[string]any{
		"auth.secret":                         secret,
		"realtime.namespaces.room.public":     true,
		"realtime.namespaces.room.presence":   true,
		"realtime.namespaces.room.join_leave": true,
	}
	for k, v := range cfg {
		base[k] = v
	}
	var d deps
	a := apptest.New(t, []fx.Option{apex.Without(apex.Data)}, apptest.Config(base), apptest.With(fx.Populate(&d)))
	return a, d
}

func token(t *testing.T, d deps, subject string) string {
	t.Helper()
	p, err := d.Tokens.Issue(t.Context(), auth.Principal{Subject: subject})
	if err != nil {
		t.Fatal(err)
	}
	return p.AccessToken
}

// The module serves WebSocket and SSE on the echo server, authenticates
// with the auth module's access tokens and publishes to user channels.
func TestModuleWithAuth(t *testing.T) {
	t.Parallel()
	a, d := start(t, nil)
	if len(d.Sinks) != 0 {
		t.Fatalf("job events are off by default, got %d sinks", len(d.Sinks))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, a.URL+realtime.DefaultWebSocketPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if m, err := c.Connect(token(t, d, "alice"), 5*time.Second); err != nil || m.Error != nil {
		t.Fatalf("connect: %v %s", err, m.Raw)
	}
	if m, err := c.Call("subscribe", map[string]any{"channel": "room:lobby"}, 5*time.Second); err != nil || m.Error != nil {
		t.Fatalf("subscribe: %v %s", err, m.Raw)
	}
	if err := d.Hub.PublishToUser(t.Context(), "alice", []byte(`{"hi":1}`)); err != nil {
		t.Fatal(err)
	}
	if m, err := c.Await(func(m wsclient.Msg) bool { return m.Push != nil && m.Push.Pub != nil }, 5*time.Second); err != nil || m.Push.Channel != "user:alice" {
		t.Fatalf("user push: %v %s", err, m.Raw)
	}

	// A forged token is refused.
	bad, err := wsclient.Dial(ctx, a.URL+realtime.DefaultWebSocketPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	_, _ = bad.Send("connect", map[string]any{"token": "eyJhbGciOiJIUzI1NiJ9.e30.forged"})
	if cl, err := bad.AwaitClose(5 * time.Second); err != nil || cl.Code != 3500 {
		t.Fatalf("forged token: %v %v; want close 3500", cl, err)
	}

	// SSE, unidirectional: the connect command rides in the URL.
	q := url.Values{"cf_connect": {`{"id":1,"connect":{"token":"` + token(t, d, "bob") + `"}}`}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+realtime.DefaultSSEPath+"?"+q.Encode(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SSE: %d", resp.StatusCode)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = d.Hub.PublishToUser(context.Background(), "bob", []byte(`{"to":"bob"}`))
	}()
	sc := bufio.NewScanner(resp.Body)
	var got bool
	for !got && sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"to":"bob"`) {
			var push map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &push); err != nil {
				t.Fatal(err)
			}
			got = true
		}
	}
	if !got {
		t.Fatalf("SSE stream ended before the publication: %v", sc.Err())
	}

	// HTTP streaming: the connect command in the POST body, replies and
	// pushes as JSON lines.
	hs, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL+realtime.DefaultHTTPStreamPath,
		strings.NewReader(`{"id":1,"connect":{"token":"`+token(t, d, "carol")+`"}}`))
	if err != nil {
		t.Fatal(err)
	}
	hresp, err := http.DefaultClient.Do(hs)
	if err != nil {
		t.Fatal(err)
	}
	defer hresp.Body.Close()
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = d.Hub.PublishToUser(context.Background(), "carol", []byte(`{"to":"carol"}`))
	}()
	hsc := bufio.NewScanner(hresp.Body)
	var streamed bool
	for !streamed && hsc.Scan() {
		streamed = strings.Contains(hsc.Text(), `"to":"carol"`)
	}
	if !streamed {
		t.Fatalf("HTTP stream (%d) ended before the publication: %v", hresp.StatusCode, hsc.Err())
	}

	if r := a.Do(t, http.MethodGet, "/readyz", ""); r.StatusCode != http.StatusOK || !strings.Contains(string(r.Body), "realtime") {
		t.Fatalf("/readyz: %d %s", r.StatusCode, r.Body)
	}
}

// A stopping app tells its clients to reconnect before the HTTP server
// drains (code 3001), rather than dropping them.
func TestModuleStopTellsClientsToReconnect(t *testing.T) {
	t.Parallel()
	a, d := start(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, a.URL+realtime.DefaultWebSocketPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if m, err := c.Connect(token(t, d, "alice"), 5*time.Second); err != nil || m.Error != nil {
		t.Fatalf("connect: %v", err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- a.Stop() }()
	if cl, err := c.AwaitClose(10 * time.Second); err != nil || cl.Code != 3001 {
		t.Fatalf("on stop: %v %v; want close 3001 (shutdown, reconnect)", cl, err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v", err)
	}
}

func TestModuleJobEventsEnabled(t *testing.T) {
	t.Parallel()
	_, d := start(t, map[string]any{"realtime.job_events.enabled": true})
	if len(d.Sinks) != 1 {
		t.Fatalf("got %d job event sinks, want 1", len(d.Sinks))
	}
}

func TestModuleDriverRedisWithoutRedis(t *testing.T) {
	t.Parallel()
	_, err := apptest.Start(t, []fx.Option{apex.Without(apex.Data)}, apptest.Config(map[string]any{"realtime.driver": "redis"}))
	if err == nil || !strings.Contains(err.Error(), "realtime.driver is redis but Redis is not configured") {
		t.Fatalf("got %v", err)
	}
}

// With redis.addr the hub runs on Redis: readiness asks it.
func TestModuleOnRedis(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	a, d := start(t, map[string]any{"redis.addr": addr, "realtime.prefix": testservice.Unique("apexrtmod")})
	if _, err := d.Hub.Publish(t.Context(), "room:x", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if r := a.Do(t, http.MethodGet, "/readyz", ""); r.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %d %s", r.StatusCode, r.Body)
	}
}

// Realtime connections outlive the HTTP server's per-request bounds
// (request timeout, read and write timeouts): a WebSocket and an SSE
// stream still deliver after all three have passed.
func TestModuleConnectionsOutliveRequestTimeouts(t *testing.T) {
	t.Parallel()
	a, d := start(t, map[string]any{
		"http.timeout.duration": "500ms", "http.read_timeout": "1s", "http.write_timeout": "1s",
	})
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	ws, err := wsclient.Dial(ctx, a.URL+realtime.DefaultWebSocketPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if m, err := ws.Connect(token(t, d, "alice"), 5*time.Second); err != nil || m.Error != nil {
		t.Fatalf("connect: %v", err)
	}
	q := url.Values{"cf_connect": {`{"id":1,"connect":{"token":"` + token(t, d, "bob") + `"}}`}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+realtime.DefaultSSEPath+"?"+q.Encode(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	time.Sleep(2500 * time.Millisecond) // past every bound
	if err := d.Hub.PublishToUser(t.Context(), "alice", []byte(`{"late":"alice"}`)); err != nil {
		t.Fatal(err)
	}
	if err := d.Hub.PublishToUser(t.Context(), "bob", []byte(`{"late":"bob"}`)); err != nil {
		t.Fatal(err)
	}
	if m, err := ws.Await(func(m wsclient.Msg) bool { return m.Push != nil && m.Push.Pub != nil }, 5*time.Second); err != nil {
		t.Fatalf("WebSocket after the timeouts: %v %s", err, m.Raw)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"late":"bob"`) {
			return
		}
	}
	t.Fatalf("SSE stream ended before the late publication: %v", sc.Err())
}

// Client publications are rate-limited per subject by the cache module's
// limiter when the app has one.
func TestModuleClientPublishLimitedByCacheLimiter(t *testing.T) {
	t.Parallel()
	a, d := start(t, map[string]any{
		"realtime.namespaces.chat.public": true, "realtime.namespaces.chat.publish": true,
		"realtime.limits.publish_rate": 1, "realtime.limits.publish_burst": 2,
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var limited int
	for range 2 { // two connections of one subject share its budget
		c, err := wsclient.Dial(ctx, a.URL+realtime.DefaultWebSocketPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if m, err := c.Connect(token(t, d, "alice"), 5*time.Second); err != nil || m.Error != nil {
			t.Fatalf("connect: %v", err)
		}
		for range 2 {
			m, err := c.Call("publish", map[string]any{"channel": "chat:x", "data": map[string]any{"x": 1}}, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if m.Error != nil {
				if m.Error.Code != 111 {
					t.Fatalf("publish: %s", m.Raw)
				}
				limited++
			}
		}
	}
	// Per connection, burst 2 would refuse none; per subject, the second
	// connection's publications find the budget spent (one may refill
	// at 1/s on a slow machine).
	if limited == 0 {
		t.Fatal("no publication refused: the budget is not shared by the subject's connections")
	}
}
