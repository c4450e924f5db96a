package redis_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apexgo/apex/internal/testservice"
	"github.com/apexgo/apex/realtime/hub"
	"github.com/apexgo/apex/realtime/internal/wsclient"
	"github.com/apexgo/apex/realtime/port"
	"github.com/apexgo/apex/realtime/redis"
)

// ownRedis is a redis-server this test starts on a free port, in a temp
// dir, and stops.
type ownRedis struct {
	t    *testing.T
	dir  string
	port int
	aof  bool
	cmd  *exec.Cmd
}

func startOwnRedis(t *testing.T, aof bool) *ownRedis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if testservice.Required() {
			t.Fatal("redis-server not found: the restart test starts its own")
		}
		t.Skip("redis-server not found: the restart test starts its own")
	}
	_ = bin
	port := freePort(t)
	r := &ownRedis{t: t, dir: t.TempDir(), port: port, aof: aof}
	r.start()
	t.Cleanup(r.kill)
	return r
}

// Ports of the redis-servers this package's tests start: 7200-7299
// (other suites use other ranges), the first free one from a counter
// that parallel tests share.
var nextPort atomic.Int32

func freePort(t *testing.T) int {
	t.Helper()
	for range 100 {
		port := 7200 + int(nextPort.Add(1)-1)%100
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatal("no free port in 7200-7299 for the test's redis-server")
	return 0
}

func (r *ownRedis) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *ownRedis) start() {
	r.t.Helper()
	args := []string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir, "--save", "", "--daemonize", "no"}
	if r.aof {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	}
	r.cmd = exec.Command("redis-server", args...)
	logf, err := os.OpenFile(filepath.Join(r.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	defer logf.Close()
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	exited := make(chan struct{})
	cmd := r.cmd
	go func() { _, _ = cmd.Process.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// A PONG, not just a TCP connect: the server is ours and ready.
		if pong(r.addr()) {
			return
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			r.t.Fatalf("own redis-server on %s exited:\n%s", r.addr(), out)
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("own redis-server on %s did not start", r.addr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func pong(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 7)
	n, _ := io.ReadAtLeast(c, buf, 7)
	return string(buf[:n]) == "+PONG\r\n"
}

func (r *ownRedis) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		for pong(r.addr()) { // until the port is closed
			time.Sleep(20 * time.Millisecond)
		}
		r.cmd = nil
	}
}

type recovering struct {
	t      *testing.T
	url    string
	ch     string
	c      *wsclient.Conn
	epoch  string
	offset uint64
	got    []uint64
	told   bool // the server said it could not recover
	drops  int
}

func (rc *recovering) connect(recover bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, rc.url, nil)
	if err != nil {
		return err
	}
	if m, err := c.Connect("", 3*time.Second); err != nil || m.Error != nil {
		c.Close()
		return fmt.Errorf("connect: %v %+v", err, m.Error)
	}
	req := map[string]any{"channel": rc.ch}
	if recover {
		req["recover"], req["offset"], req["epoch"] = true, rc.offset, rc.epoch
	}
	m, err := c.Call("subscribe", req, 5*time.Second)
	if err != nil || m.Error != nil || m.Sub == nil {
		c.Close()
		return fmt.Errorf("subscribe: %v %s", err, m.Raw)
	}
	if recover && !m.Sub.Recovered {
		rc.told = true
	}
	for _, p := range m.Sub.Publications {
		rc.add(p.Offset)
	}
	rc.epoch, rc.c = m.Sub.Epoch, c
	if rc.offset < m.Sub.Offset && !recover {
		rc.offset = m.Sub.Offset
	}
	return nil
}

func (rc *recovering) resubscribe() error {
	m, err := rc.c.Call("subscribe", map[string]any{"channel": rc.ch, "recover": true, "offset": rc.offset, "epoch": rc.epoch}, 5*time.Second)
	if err != nil || m.Error != nil || m.Sub == nil {
		return fmt.Errorf("resubscribe: %v %s", err, m.Raw)
	}
	if !m.Sub.Recovered {
		rc.told = true
	}
	for _, p := range m.Sub.Publications {
		rc.add(p.Offset)
	}
	rc.epoch = m.Sub.Epoch
	return nil
}

func (rc *recovering) add(off uint64) {
	rc.got = append(rc.got, off)
	rc.offset = off
}

// readUntil reads publications until it has n after the first, reconnecting
// with recovery whenever the server closes the connection.
func (rc *recovering) readUntil(n int, timeout time.Duration) {
	rc.t.Helper()
	deadline := time.Now().Add(timeout)
	for len(rc.got) < n && !rc.told {
		if time.Now().After(deadline) {
			rc.t.Fatalf("have %d of %d publications (offsets %v) after %v, %d reconnects", len(rc.got), n, rc.got, timeout, rc.drops)
		}
		if rc.c == nil {
			if err := rc.connect(true); err != nil {
				time.Sleep(200 * time.Millisecond)
				continue
			}
		}
		m, err := rc.c.Next(500 * time.Millisecond)
		var cl *wsclient.Close
		switch {
		case errors.As(err, &cl):
			rc.drops++
			rc.c.Close()
			rc.c = nil
		case err != nil:
			if !strings.Contains(err.Error(), "timeout") && !strings.Contains(err.Error(), "timed out") {
				rc.t.Logf("read: %v", err)
			}
			continue
		case m.Push != nil && m.Push.Pub != nil:
			rc.add(m.Push.Pub.Offset)
		case m.Push != nil && m.Push.Unsubscribe != nil:
			// Insufficient state: resubscribe, recovering, as centrifuge's
			// clients do.
			rc.drops++
			if err := rc.resubscribe(); err != nil {
				rc.c.Close()
				rc.c = nil
			}
		}
	}
}

const restartCheckInterval = 2 * time.Second

func newRestartHub(t *testing.T, addr string) (*hub.Hub, string) {
	t.Helper()
	h, err := redis.New(redis.Config{Addr: addr, IOTimeout: time.Second, DialTimeout: time.Second}, hub.Config{
		AllowAnonymous:        true,
		CommandTimeout:        time.Second,
		PositionCheckInterval: restartCheckInterval,
		Namespaces:            map[string]hub.Namespace{"room": {Public: true, HistorySize: 1000, HistoryTTL: 10 * time.Minute}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handlers(nil).WebSocket)
	t.Cleanup(func() {
		srv.Close()
		_ = h.Shutdown(context.Background())
	})
	return h, srv.URL
}

func publish(t *testing.T, h *hub.Hub, ch string, from, to int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := from; i < to; {
		_, err := h.Publish(t.Context(), ch, fmt.Appendf(nil, `{"i":%d}`, i))
		if err == nil {
			i++
			continue
		}
		if !errors.Is(err, port.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("publish %d: %v", i, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Redis restarted mid-stream with its data (AOF): a subscriber recovers
// every publication, with no gap; while it is down, publishing and
// subscribing fail within the command timeout instead of hanging
// (centrifuge#491) or panicking (#399).
func TestRedisRestartRecoversWithoutGap(t *testing.T) {
	t.Parallel()
	r := startOwnRedis(t, true)
	h, url := newRestartHub(t, r.addr())
	rc := &recovering{t: t, url: url, ch: "room:restart"}
	if err := rc.connect(false); err != nil {
		t.Fatal(err)
	}
	publish(t, h, rc.ch, 0, 10)
	rc.readUntil(10, 10*time.Second)

	r.kill()
	start := time.Now()
	if _, err := h.Publish(t.Context(), rc.ch, []byte(`{}`)); !errors.Is(err, port.ErrUnavailable) {
		t.Fatalf("publish with Redis down: %v, want ErrUnavailable", err)
	}
	_, err := h.Subscribe(t.Context(), port.SubscribeParams{Channel: "room:while-down", OnPublication: func(port.Publication) {}})
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("publish and subscribe with Redis down took %v", took)
	}
	t.Logf("subscribe with Redis down: %v", err)
	if err := h.Check(t.Context()); err == nil {
		t.Fatal("readiness passes with Redis down")
	}

	r.start()
	back := time.Now()
	publish(t, h, rc.ch, 10, 20)
	rc.readUntil(20, 90*time.Second)
	t.Logf("all 20 in hand %v after Redis answered again (position check interval %v)", time.Since(back).Round(time.Millisecond), restartCheckInterval)
	if rc.told {
		t.Fatalf("told it cannot recover although Redis kept its data; got %v", rc.got)
	}
	for i, off := range rc.got {
		if off != uint64(i+1) {
			t.Fatalf("offsets %v: want 1..20, each once (drops: %d)", rc.got, rc.drops)
		}
	}
	t.Logf("recovered across the restart with %d reconnects", rc.drops)
	if err := h.Check(t.Context()); err != nil {
		t.Fatalf("readiness after restart: %v", err)
	}
}

// Redis restarted empty: the subscriber is told that it cannot recover,
// never silently left with a gap.
func TestRedisRestartEmptyToldCannotRecover(t *testing.T) {
	t.Parallel()
	r := startOwnRedis(t, false)
	h, url := newRestartHub(t, r.addr())
	rc := &recovering{t: t, url: url, ch: "room:restart-empty"}
	if err := rc.connect(false); err != nil {
		t.Fatal(err)
	}
	publish(t, h, rc.ch, 0, 10)
	rc.readUntil(10, 10*time.Second)
	r.kill()
	r.start()
	back := time.Now()
	publish(t, h, rc.ch, 10, 25)
	hist, err := h.History(t.Context(), rc.ch, port.HistoryParams{Limit: 0})
	t.Logf("history after restart: %+v %v; client at %d %s", hist.Position, err, rc.offset, rc.epoch)
	rc.readUntil(20, 90*time.Second)
	if !rc.told {
		// Everything arrived: acceptable only without a gap.
		for i, off := range rc.got {
			if i > 0 && off != rc.got[i-1]+1 {
				t.Fatalf("silent gap: offsets %v", rc.got)
			}
		}
	}
	t.Logf("told=%v offsets=%v reconnects=%d, %v after Redis answered again (position check interval %v)",
		rc.told, rc.got, rc.drops, time.Since(back).Round(time.Millisecond), restartCheckInterval)
}
