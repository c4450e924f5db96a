package redisconn_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"

	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/httpx/httpxtest"
	"github.com/apexgo/apex/internal/redisconn"
	"github.com/apexgo/apex/internal/testservice"
)

func newClient(t *testing.T, addr string, timeout time.Duration, reg prometheus.Registerer) rueidis.Client {
	t.Helper()
	cfg := redisconn.DefaultConfig()
	cfg.Addr, cfg.CommandTimeout, cfg.DialTimeout = addr, timeout, timeout
	c, err := redisconn.New(t.Context(), cfg, redisconn.Params{Registerer: reg})
	if err != nil {
		t.Fatalf("redisconn.New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// read is a GET, and a GET through the client-side cache, as the cache
// and auth backends send them; ctx is a request's (a 20s deadline).
func read(c rueidis.Client, cached bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if cached {
		err := c.DoCache(ctx, c.B().Get().Key("k").Cache(), time.Minute).Error()
		if rueidis.IsRedisNil(err) {
			return nil
		}
		return err
	}
	err := c.Do(ctx, c.B().Get().Key("k").Build()).Error()
	if rueidis.IsRedisNil(err) {
		return nil
	}
	return err
}

// failFast checks reads during an outage: each fails with ErrUnavailable,
// and the 99th percentile of their latencies is under a quarter of the
// client's 1s command timeout (waiting for it is what fail-fast avoids).
func failFast(t *testing.T, c rueidis.Client) {
	t.Helper()
	var took []time.Duration
	for i := range 200 {
		start := time.Now()
		err := read(c, i%2 == 0)
		took = append(took, time.Since(start))
		if !errors.Is(err, redisconn.ErrUnavailable) {
			t.Fatalf("read %d during the outage: %v; want an error wrapping redisconn.ErrUnavailable", i, err)
		}
		time.Sleep(time.Millisecond)
	}
	slices.Sort(took)
	p99 := took[len(took)*99/100]
	t.Logf("reads during the outage: median %v, p99 %v, max %v", took[len(took)/2], p99, took[len(took)-1])
	if p99 > 250*time.Millisecond {
		t.Fatalf("p99 of reads during the outage %v, want under 250ms (a quarter of the command timeout)", p99)
	}
}

// recovers polls reads until one succeeds and returns how long it took.
func recovers(t *testing.T, c rueidis.Client) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if err := read(c, false); err == nil {
			return time.Since(start)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("reads still fail 10s after Redis came back")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestFailFastWhenRedisIsKilled: with the server killed (connections
// dropped, port refusing), reads fail fast with ErrUnavailable once the
// first has failed, the readiness check says why, the metrics show it,
// and reads work again within a second of the server's return.
func TestFailFastWhenRedisIsKilled(t *testing.T) {
	t.Parallel()
	s := testservice.StartRedis(t)
	reg := prometheus.NewPedanticRegistry()
	c := newClient(t, s.Addr, time.Second, reg)
	if err := read(c, false); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	start := time.Now()
	err := read(c, false)
	t.Logf("first read after the kill: %v after %v", err, time.Since(start))
	if !errors.Is(err, redisconn.ErrUnavailable) {
		t.Fatalf("first read after the kill: %v; want an error wrapping redisconn.ErrUnavailable", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("first read after the kill took %v; a refused connection must not be retried until the deadline", d)
	}
	failFast(t, c)

	checkStart := time.Now()
	err = redisconn.Check{Client: c}.Check(t.Context())
	if !errors.Is(err, redisconn.ErrUnavailable) || !strings.Contains(err.Error(), "unavailable since") || time.Since(checkStart) > 250*time.Millisecond {
		t.Fatalf("readiness check during the outage: %v after %v; want a prompt error saying since when Redis is unavailable", err, time.Since(checkStart))
	}
	if up, outages := gauge(t, reg, "apex_redis_up"), gauge(t, reg, "apex_redis_outages_total"); up != 0 || outages != 1 {
		t.Fatalf("during the outage apex_redis_up = %v, apex_redis_outages_total = %v; want 0 and 1", up, outages)
	}
	if rejected := gauge(t, reg, "apex_redis_rejected_total"); rejected < 200 {
		t.Fatalf("apex_redis_rejected_total = %v, want at least the 200 reads failed fast", rejected)
	}

	s.Start()
	d := recovers(t, c)
	t.Logf("reads work again %v after Redis accepts connections", d)
	if d > time.Second {
		t.Fatalf("reads work again %v after Redis came back; want under 1s", d)
	}
	if err := (redisconn.Check{Client: c}).Check(t.Context()); err != nil {
		t.Fatalf("readiness check after recovery: %v", err)
	}
	if up := gauge(t, reg, "apex_redis_up"); up != 1 {
		t.Fatalf("after recovery apex_redis_up = %v, want 1", up)
	}
}

// TestFailFastWhenRedisIsFrozen: with the server stopped (SIGSTOP:
// connections open, nothing answers), the first reads fail within the
// command timeout, then every read fails fast, until the server goes on.
func TestFailFastWhenRedisIsFrozen(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	s := testservice.StartRedis(t)
	c := newClient(t, s.Addr, timeout, nil)
	if err := read(c, false); err != nil {
		t.Fatal(err)
	}
	s.Signal(syscall.SIGSTOP)
	start := time.Now()
	err := read(c, false)
	if took := time.Since(start); err == nil || took > timeout+500*time.Millisecond {
		t.Fatalf("first read against a frozen Redis: %v after %v; want an error within the command timeout %v", err, took, timeout)
	}
	// The timeout starts a PING, which gets no answer within the command
	// timeout either: from then on the client fails fast.
	deadline := time.Now().Add(3*timeout + time.Second)
	for err := read(c, false); !errors.Is(err, redisconn.ErrUnavailable); err = read(c, false) {
		if time.Now().After(deadline) {
			t.Fatalf("reads against a frozen Redis still wait for it after %v: %v", 3*timeout+time.Second, err)
		}
	}
	failFast(t, c)
	s.Signal(syscall.SIGCONT)
	d := recovers(t, c)
	t.Logf("reads work again %v after Redis went on", d)
	if d > time.Second {
		t.Fatalf("reads work again %v after Redis went on; want under 1s", d)
	}
}

// TestFailFastSingleDroppedConnection: a connection the
// server drops while it keeps answering (CLIENT KILL) costs a failed
// command, not an outage: the first probe, sent at once, closes the
// breaker again.
func TestFailFastSingleDroppedConnection(t *testing.T) {
	t.Parallel()
	s := testservice.StartRedis(t)
	c := newClient(t, s.Addr, time.Second, nil)
	if err := read(c, false); err != nil {
		t.Fatal(err)
	}
	admin := newClient(t, s.Addr, time.Second, nil)
	kill := admin.B().Arbitrary("CLIENT", "KILL").Args("TYPE", "normal", "SKIPME", "yes").Build()
	if err := admin.Do(t.Context(), kill).Error(); err != nil {
		t.Fatalf("CLIENT KILL: %v", err)
	}
	d := recovers(t, c)
	if d > 500*time.Millisecond {
		t.Fatalf("after one dropped connection reads failed for %v; want well under the probe interval plus a PING", d)
	}
}

// TestCheckConformance runs the health-check suite on the Redis
// readiness check: a PING to a live Redis passes, one to a Redis that was
// killed fails promptly.
func TestCheckConformance(t *testing.T) {
	t.Parallel()
	live := newClient(t, testservice.Need(t, testservice.Redis), time.Second, nil)
	s := testservice.StartRedis(t)
	dead := newClient(t, s.Addr, time.Second, nil)
	s.Kill()
	httpxtest.Run(t, httpxtest.Features{Down: true}, func(_ *testing.T, down bool) httpx.HealthCheck {
		if down {
			return redisconn.Check{Client: dead}
		}
		return redisconn.Check{Client: live}
	})
}

// TestFailFastCloseEndsProbes: closing the client while it probes a
// frozen Redis does not wait for the probe's timeout. (rueidis's own
// Close waits up to one second per connection for a silent peer before
// it drops it — seen taking 2s here — so the timeout is well above that
// and Close must end within it.)
func TestFailFastCloseEndsProbes(t *testing.T) {
	t.Parallel()
	const timeout = 5 * time.Second
	s := testservice.StartRedis(t)
	cfg := redisconn.DefaultConfig()
	cfg.Addr, cfg.CommandTimeout = s.Addr, timeout
	c, err := redisconn.New(t.Context(), cfg, redisconn.Params{})
	if err != nil {
		t.Fatal(err)
	}
	s.Signal(syscall.SIGSTOP)
	deadline := time.Now().Add(5 * timeout)
	for err := read(c, false); !errors.Is(err, redisconn.ErrUnavailable); err = read(c, false) {
		if time.Now().After(deadline) {
			c.Close()
			t.Fatalf("reads against a frozen Redis do not fail fast after %v: %v", 5*timeout, err)
		}
	}
	// A probe is now waiting for a PING that cannot come back.
	start := time.Now()
	c.Close()
	if took := time.Since(start); took > timeout*4/5 {
		t.Fatalf("Close took %v while a probe waited on a frozen Redis; want it to end the probe", took)
	}
}

// TestFailFastFrozenCachedRead: a read through the client-side cache,
// which the client does not bound (a local hit must stay cheap), still
// ends against a frozen Redis on a request's long deadline (rueidis
// bounds a lone command by the command timeout; under traffic, its
// keep-alive check (every 1s; it PINGs a connection that received
// nothing since the last check) closes the connection that does not
// answer within the command timeout, within two checks), and the
// client then fails fast.
func TestFailFastFrozenCachedRead(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	s := testservice.StartRedis(t)
	c := newClient(t, s.Addr, timeout, nil)
	if err := read(c, false); err != nil {
		t.Fatal(err)
	}
	s.Signal(syscall.SIGSTOP)
	start := time.Now()
	err := read(c, true) // a 20s deadline
	took := time.Since(start)
	t.Logf("cached read against a frozen Redis: %v after %v", err, took)
	if err == nil || took > 2*rueidis.DefaultTCPKeepAlive+timeout+time.Second {
		t.Fatalf("cached read against a frozen Redis: %v after %v; want an error within two keep-alive checks (%v) plus the command timeout %v",
			err, took, 2*rueidis.DefaultTCPKeepAlive, timeout)
	}
	// A timeout starts a PING, which gets no answer either: from then on
	// the client fails fast.
	deadline := time.Now().Add(3*timeout + time.Second)
	for err := read(c, true); !errors.Is(err, redisconn.ErrUnavailable); err = read(c, true) {
		if time.Now().After(deadline) {
			t.Fatalf("cached reads against a frozen Redis still wait for it: %v", err)
		}
	}
	failFast(t, c)
	s.Signal(syscall.SIGCONT)
	if d := recovers(t, c); d > time.Second {
		t.Fatalf("reads work again %v after Redis went on; want under 1s", d)
	}
}
