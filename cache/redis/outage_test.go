package redis_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/rueidis"

	"github.com/apexgo/apex/cache/internal/backend"
	"github.com/apexgo/apex/cache/port"
	"github.com/apexgo/apex/cache/redis"
	"github.com/apexgo/apex/internal/redisconn"
	"github.com/apexgo/apex/internal/testservice"
)

// proxy forwards loopback TCP connections to a target, and can be taken
// down (listener and every open connection closed) and brought back up on
// the same port: a Redis that stops and restarts.
type proxy struct {
	target string
	addr   string // 127.0.0.1:port, fixed at the first start

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	thawed chan struct{} // closed unless frozen
	wg     sync.WaitGroup
}

// maxProxyConns bounds the connections a proxy holds; more are refused.
const maxProxyConns = 64

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{target: target, addr: "127.0.0.1:0", thawed: make(chan struct{})}
	close(p.thawed)
	if err := p.up(); err != nil {
		t.Fatalf("proxy: %v", err)
	}
	t.Cleanup(p.down)
	return p
}

// up listens on p.addr (the same port after the first time).
func (p *proxy) up() error {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ln, p.addr, p.conns = ln, ln.Addr().String(), map[net.Conn]struct{}{}
	p.mu.Unlock()
	p.wg.Go(func() { p.accept(ln) })
	return nil
}

func (p *proxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.ln != ln || len(p.conns) >= maxProxyConns {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.forward(c) })
	}
}

func (p *proxy) forward(c net.Conn) {
	defer p.drop(c)
	d := net.Dialer{Timeout: 2 * time.Second}
	up, err := d.Dial("tcp", p.target)
	if err != nil {
		return
	}
	p.mu.Lock()
	if _, ok := p.conns[c]; !ok { // taken down meanwhile
		p.mu.Unlock()
		_ = up.Close()
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	defer p.drop(up)
	done := make(chan struct{}, 2)
	go func() { p.copy(up, c); done <- struct{}{} }()
	go func() { p.copy(c, up); done <- struct{}{} }()
	<-done // either side ends: close both, which ends the other copy
	_ = c.Close()
	_ = up.Close()
	<-done
}

// copy forwards src to dst, holding bytes back while the proxy is frozen.
func (p *proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			thawed := p.thawed
			p.mu.Unlock()
			<-thawed
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// freeze stops forwarding, connections left open: a Redis that hangs.
func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
		p.thawed = make(chan struct{})
	default:
	}
}

// thaw forwards again, the bytes held back first.
func (p *proxy) thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
	default:
		close(p.thawed)
	}
}

func (p *proxy) drop(c net.Conn) {
	_ = c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// down closes the listener and every connection, and waits for the
// proxy's goroutines to end.
func (p *proxy) down() {
	p.thaw()
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// outageTimeout is the command timeout of the outage tests, and
// outageMargin how late past it a failing call may return.
const (
	outageTimeout = 300 * time.Millisecond
	outageMargin  = 700 * time.Millisecond
)

type outageCall struct {
	name string
	do   func(ctx context.Context) error
	// local marks a read that a live-looking connection may serve from
	// its local copy: Redis cannot invalidate it, but a connection that
	// merely stopped answering is not known dead yet.
	local bool
}

// outageHarness connects a client to Redis through a proxy and returns
// the proxy and one call of each kind (cache, client-side cache, limiter,
// readiness check), which all work before the outage.
func outageHarness(t *testing.T) (*proxy, []outageCall) {
	t.Helper()
	const timeout = outageTimeout
	redisAddr := testservice.Need(t, testservice.Redis)
	px := startProxy(t, redisAddr)
	direct := connect(t, redisAddr) // for setup and cleanup, outside the outage
	p := prefix(t, direct)
	client := connect(t, px.addr, func(c *redisconn.Config) {
		c.DialTimeout = timeout
		c.CommandTimeout = timeout
	})
	plain := newCache(t, client, redis.Config{Prefix: p, CommandTimeout: timeout})
	metrics, err := backend.NewMetrics(nil, "redis")
	if err != nil {
		t.Fatal(err)
	}
	local := newCache(t, client, redis.Config{Prefix: p + "cs:", ClientSide: true, CommandTimeout: timeout, Metrics: metrics})
	lim, err := redis.NewLimiter(client, redis.LimiterConfig{Prefix: p + "rl:", CommandTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	check := redisconn.Check{Client: client}
	limit := port.Limit{Rate: 1000, Period: time.Second, Burst: 1000}
	calls := []outageCall{
		{"Set", func(ctx context.Context) error { return plain.Set(ctx, "k", []byte("v"), time.Minute) }, false},
		{"Get", func(ctx context.Context) error { _, err := plain.Get(ctx, "k"); return err }, false},
		{"Delete", func(ctx context.Context) error { return plain.Delete(ctx, "gone") }, false},
		{"GetOrLoad", func(ctx context.Context) error {
			_, err := plain.GetOrLoad(ctx, "loaded", time.Minute, func(context.Context) ([]byte, error) { return []byte("v"), nil })
			return err
		}, false},
		// warm is held locally (see below): the copy must go with the
		// connection.
		{"client-side Get", func(ctx context.Context) error { _, err := local.Get(ctx, "warm"); return err }, true},
		{"client-side Set", func(ctx context.Context) error { return local.Set(ctx, "k", []byte("v"), time.Minute) }, false},
		{"Allow", func(ctx context.Context) error { _, err := lim.Allow(ctx, "k", limit); return err }, false},
		{"Check", func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return check.Check(ctx)
		}, false},
	}
	// A key another instance wrote, which this one reads and holds.
	if err := direct.Do(t.Context(), direct.B().Set().Key(p+"cs:warm").Value("w").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if err := allWork(t, calls); err != nil {
		t.Fatalf("through the proxy, before the outage: %v", err)
	}
	if _, err := local.Get(t.Context(), "warm"); err != nil || testutil.ToFloat64(metrics.LocalHits) < 1 {
		t.Fatalf("the warm key is not served locally: %v, %v local hits", err, testutil.ToFloat64(metrics.LocalHits))
	}
	return px, calls
}

func allWork(t *testing.T, calls []outageCall) error {
	for _, c := range calls {
		if err := c.do(t.Context()); err != nil {
			return errors.New(c.name + ": " + err.Error())
		}
	}
	return nil
}

// allFail runs every call at once and checks that each fails in time;
// with exceptLocal, reads that may be served locally need not fail.
func allFail(t *testing.T, calls []outageCall, exceptLocal bool) {
	t.Helper()
	var wg sync.WaitGroup
	for _, c := range calls {
		if c.local && exceptLocal {
			continue
		}
		wg.Go(func() {
			start := time.Now()
			err := c.do(t.Context())
			if c.local {
				// The local copy goes once the client sees the connection
				// close, which may trail the outage a little.
				for err == nil && time.Since(start) < outageTimeout {
					time.Sleep(5 * time.Millisecond)
					err = c.do(t.Context())
				}
			}
			took := time.Since(start)
			if err == nil {
				t.Errorf("%s during the outage: no error", c.name)
			}
			if took > outageTimeout+outageMargin {
				t.Errorf("%s during the outage took %v (%v), want at most %v + %v", c.name, took, err, outageTimeout, outageMargin)
			}
		})
	}
	wg.Wait()
}

// recovers polls until every call works again, for up to 5s.
func recovers(t *testing.T, calls []outageCall) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := allWork(t, calls)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not recovered 5s after Redis came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOutageRedisDown: with Redis gone (connections closed, port
// refusing), calls fail within the command timeout, the readiness check
// fails, and all recovers once Redis is back on the same address.
func TestOutageRedisDown(t *testing.T) {
	t.Parallel()
	px, calls := outageHarness(t)
	px.down()
	allFail(t, calls, false)
	// Once the shared client has seen the connections go, every call
	// fails at once with the cache's sentinel (the readiness check with
	// the client's).
	for _, c := range calls {
		start := time.Now()
		err := c.do(t.Context())
		want, name := port.ErrUnavailable, "cache.ErrUnavailable"
		if c.name == "Check" {
			want, name = redisconn.ErrUnavailable, "redisconn.ErrUnavailable"
		}
		if !errors.Is(err, want) || !errors.Is(err, redisconn.ErrUnavailable) {
			t.Errorf("%s during the outage: %v; want an error wrapping %s", c.name, err, name)
		}
		if took := time.Since(start); took > outageTimeout/4 {
			t.Errorf("%s during the outage took %v once the client knew Redis down; want it to fail fast", c.name, took)
		}
	}
	if err := px.up(); err != nil {
		t.Fatalf("proxy back on %s: %v", px.addr, err)
	}
	recovers(t, calls)
}

// TestOutageRedisHangs: with Redis not answering (connections open,
// nothing comes back), calls fail within the command timeout, and all
// recovers once it answers again.
func TestOutageRedisHangs(t *testing.T) {
	t.Parallel()
	px, calls := outageHarness(t)
	px.freeze()
	allFail(t, calls, true)
	px.thaw()
	recovers(t, calls)
}

// TestGetOrLoadStoreFails: when Redis goes away between the load and the
// store, GetOrLoad still returns the loaded value; the store is the
// cache's business, and the next call loads again.
func TestGetOrLoadStoreFails(t *testing.T) {
	t.Parallel()
	redisAddr := testservice.Need(t, testservice.Redis)
	px := startProxy(t, redisAddr)
	direct := connect(t, redisAddr)
	p := prefix(t, direct)
	client := connect(t, px.addr, func(c *redisconn.Config) {
		c.DialTimeout = outageTimeout
		c.CommandTimeout = outageTimeout
	})
	metrics, err := backend.NewMetrics(nil, "redis")
	if err != nil {
		t.Fatal(err)
	}
	c := newCache(t, client, redis.Config{Prefix: p, CommandTimeout: outageTimeout, Metrics: metrics})
	b, err := c.GetOrLoad(t.Context(), "k", time.Minute, func(context.Context) ([]byte, error) {
		px.down()
		return []byte("loaded"), nil
	})
	if err != nil || string(b) != "loaded" {
		t.Fatalf("GetOrLoad whose store fails: got %q, %v; want the loaded value", b, err)
	}
	if n := testutil.ToFloat64(metrics.LoadErrors); n != 0 {
		t.Errorf("load errors counted: %v, want 0 (the load succeeded)", n)
	}
	if err := direct.Do(t.Context(), direct.B().Get().Key(p+"k").Build()).Error(); !rueidis.IsRedisNil(err) {
		t.Errorf("the key in Redis: %v, want it absent (the store failed)", err)
	}
}
