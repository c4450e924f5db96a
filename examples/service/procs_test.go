package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge-go"
)

// This file is the equivalence run's machinery: the binaries built once,
// processes started, killed and restarted, a round-robin HTTP client and
// a WebSocket client. The scenario itself is in equivalence_test.go.

var binaries struct {
	once sync.Once
	dir  string
	err  error
}

// TestMain removes the binaries built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binaries.dir != "" {
		_ = os.RemoveAll(binaries.dir)
	}
	os.Exit(code)
}

// build builds cmd/api, cmd/worker and cmd/migrate once per test binary
// and returns their directory.
func build(t *testing.T) string {
	t.Helper()
	binaries.once.Do(func() {
		binaries.dir, binaries.err = os.MkdirTemp("", "tracker-bin-")
		if binaries.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binaries.dir+string(filepath.Separator), "./cmd/api", "./cmd/worker", "./cmd/migrate")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binaries.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaries.err != nil {
		t.Fatal(binaries.err)
	}
	return binaries.dir
}

// baseEnv is the test process's environment without any APP_ variable,
// so that the processes see only what a run gives them.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "APP_") {
			env = append(env, kv)
		}
	}
	return env
}

// freeAddr returns a 127.0.0.1 address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is one process of a run.
type proc struct {
	t    *testing.T
	name string
	bin  string
	dir  string
	env  []string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

func newProc(t *testing.T, name, bin, dir string, env ...string) *proc {
	p := &proc{t: t, name: name, bin: bin, dir: dir, env: env, log: filepath.Join(t.TempDir(), name+".log")}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- %s log (last 60 lines):\n%s", name, tail(p.log, 60))
		}
	})
	return p
}

func (p *proc) start() {
	p.t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	p.cmd = exec.Command(p.bin)
	p.cmd.Dir, p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = p.dir, p.env, f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		p.t.Fatalf("%s: %v", p.name, err)
	}
	done := make(chan struct{})
	p.done = done
	go func() {
		_ = p.cmd.Wait()
		f.Close()
		close(done)
	}()
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks for a graceful stop, and kills after 30s.
func (p *proc) stop() {
	if p.cmd == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.kill()
	}
}

// run runs the binary with args to its end and returns its output.
func (p *proc) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(p.t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.bin, args...)
	cmd.Dir, cmd.Env = p.dir, p.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var readyClient = &http.Client{Timeout: 10 * time.Second}

// waitReady waits until url answers 200, failing early if the process
// exits.
func (p *proc) waitReady(url string) {
	p.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		select {
		case <-p.done:
			p.t.Fatalf("%s exited before it was ready:\n%s", p.name, tail(p.log, 40))
		default:
		}
		r, err := readyClient.Get(url)
		if err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not ready at %s: %v", p.name, url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// client spreads requests over the API instances in turn, as a load
// balancer would; a connection refused (an instance down) goes to the
// next one. Connections are not kept alive, so that a killed instance
// costs no request that was already sent.
type client struct {
	bases []string
	next  atomic.Uint32
	hc    *http.Client
	mu    sync.Mutex
	log   []exchange
}

// exchange is one request the client made and its response.
type exchange struct {
	method, path, token string
	body                []byte
	resp                response
}

// exchanges returns what the client sent and received so far.
func (c *client) exchanges() []exchange {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]exchange(nil), c.log...)
}

func newClient(bases ...string) *client {
	return &client{bases: bases, hc: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// problemCode is the "code" of a problem+json body.
func (r response) problemCode() string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.Body, &p)
	return p.Code
}

func (c *client) do(t *testing.T, method, path, token string, body any) response {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		base := c.bases[int(c.next.Add(1))%len(c.bases)]
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.hc.Do(req)
		if errors.Is(err, syscall.ECONNREFUSED) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		r := response{Status: resp.StatusCode, Header: resp.Header, Body: out}
		c.mu.Lock()
		c.log = append(c.log, exchange{method: method, path: path, token: token, body: b, resp: r})
		c.mu.Unlock()
		return r
	}
}

// want fails unless r has status.
func want(t *testing.T, what string, r response, status int) response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: %d %s; want %d", what, r.Status, r.Body, status)
	}
	return r
}

// socket is a centrifuge client (github.com/centrifugal/centrifuge-go,
// the JSON protocol over WebSocket) that records what it receives: on
// its user channel (job events) and on the rooms it subscribed to.
type socket struct {
	c    *centrifuge.Client
	mu   sync.Mutex
	user []json.RawMessage
	room map[string][]json.RawMessage
	subs map[string]*centrifuge.Subscription
}

func dial(t *testing.T, base, token string) *socket {
	t.Helper()
	url := "ws" + strings.TrimPrefix(base, "http") + "/connection/websocket"
	s := &socket{room: map[string][]json.RawMessage{}, subs: map[string]*centrifuge.Subscription{}}
	s.c = centrifuge.NewJsonClient(url, centrifuge.Config{Token: token, MaxReconnectDelay: time.Second})
	connected := make(chan struct{}, 1)
	s.c.OnConnected(func(centrifuge.ConnectedEvent) {
		select {
		case connected <- struct{}{}:
		default:
		}
	})
	s.c.OnPublication(func(e centrifuge.ServerPublicationEvent) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.user = append(s.user, json.RawMessage(e.Data))
	})
	if err := s.c.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.c.Close)
	select {
	case <-connected:
	case <-time.After(time.Minute):
		t.Fatalf("websocket %s: not connected after a minute", url)
	}
	return s
}

// subscribe subscribes to channel and returns nil once subscribed, or
// the server's refusal.
func (s *socket) subscribe(t *testing.T, channel string) error {
	t.Helper()
	sub, err := s.c.NewSubscription(channel)
	if err != nil {
		t.Fatal(err)
	}
	result := make(chan error, 1)
	sub.OnSubscribed(func(centrifuge.SubscribedEvent) {
		select {
		case result <- nil:
		default:
		}
	})
	sub.OnUnsubscribed(func(e centrifuge.UnsubscribedEvent) {
		select {
		case result <- fmt.Errorf("unsubscribed: %d %s", e.Code, e.Reason):
		default:
		}
	})
	sub.OnPublication(func(e centrifuge.PublicationEvent) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.room[channel] = append(s.room[channel], json.RawMessage(e.Data))
	})
	if err := sub.Subscribe(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-result:
		if err == nil {
			s.mu.Lock()
			s.subs[channel] = sub
			s.mu.Unlock()
		}
		return err
	case <-time.After(time.Minute):
		t.Fatalf("subscribe %s: no answer after a minute", channel)
		return nil
	}
}

// subscribed reports whether the client is connected and subscribed to
// channel now (after a reconnect, once it subscribed again).
func (s *socket) subscribed(channel string) bool {
	s.mu.Lock()
	sub := s.subs[channel]
	s.mu.Unlock()
	return s.c.State() == centrifuge.StateConnected && sub != nil && sub.State() == centrifuge.SubStateSubscribed
}

func (s *socket) userMessages() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]json.RawMessage(nil), s.user...)
}

func (s *socket) roomMessages(channel string) []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]json.RawMessage(nil), s.room[channel]...)
}

// eventually polls cond until it holds, for up to two minutes: the
// machine may be loaded, so deadlines are generous and nothing is timed.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not so after 2 minutes: %s", what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
