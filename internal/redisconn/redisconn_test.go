package redisconn_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/internal/redisconn"
	"github.com/apexgo/apex/internal/testservice"
)

// closedAddr returns an address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestNewNamesTheSettingWhenUnreachable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  func(*redisconn.Config, string)
		want string
	}{
		{func(c *redisconn.Config, a string) { c.Addr = a }, "redis.addr (APP_REDIS__ADDR)"},
		{func(c *redisconn.Config, a string) { c.Addrs = []string{a} }, "redis.addrs (APP_REDIS__ADDRS)"},
	} {
		cfg := redisconn.DefaultConfig()
		cfg.DialTimeout = time.Second
		tc.cfg(&cfg, closedAddr(t))
		start := time.Now()
		c, err := redisconn.New(context.Background(), cfg, redisconn.Params{})
		if err == nil {
			c.Close()
			t.Fatalf("New to a closed port: no error")
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %q does not name %s", err, tc.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("New took %v to fail; dial_timeout is 1s", d)
		}
	}
}

func TestNewWithoutAddress(t *testing.T) {
	t.Parallel()
	if _, err := redisconn.New(context.Background(), redisconn.DefaultConfig(), redisconn.Params{}); err == nil {
		t.Fatal("New without an address: no error")
	}
}

func TestNewRejectsBadTLSFile(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{bad, filepath.Join(t.TempDir(), "missing.pem")} {
		cfg := redisconn.DefaultConfig()
		cfg.Addr = closedAddr(t)
		cfg.TLS.Enabled, cfg.TLS.CAFile = true, file
		if _, err := redisconn.New(context.Background(), cfg, redisconn.Params{}); err == nil || !strings.Contains(err.Error(), "redis.tls.ca_file") {
			t.Errorf("ca_file %s: error %v; want one naming redis.tls.ca_file", file, err)
		}
	}
}

func TestConfigProblems(t *testing.T) {
	t.Parallel()
	for name, values := range map[string]map[string]any{
		"addr and addrs":          {"redis.addr": "127.0.0.1:1", "redis.addrs": []string{"127.0.0.1:2"}},
		"master_name alone":       {"redis.master_name": "mymaster"},
		"db out of range":         {"redis.addr": "127.0.0.1:1", "redis.db": 16},
		"address without a port":  {"redis.addr": "localhost"},
		"non-positive dial limit": {"redis.addr": "127.0.0.1:1", "redis.dial_timeout": "0s"},
	} {
		if _, err := apptest.Start(t, apex.Modules, apptest.Config(values)); err == nil || !strings.Contains(err.Error(), "redis.") {
			t.Errorf("%s: start error %v; want an invalid-config error naming the key", name, err)
		}
	}
}

func TestModuleWithoutConfigProvidesNil(t *testing.T) {
	t.Parallel()
	var c rueidis.Client
	a := apptest.New(t, apex.Modules, apptest.With(fx.Populate(&c)))
	if c != nil {
		t.Fatalf("client = %v without redis.addr; want nil", c)
	}
	var body struct {
		Checks map[string]any `json:"checks"`
	}
	a.Do(t, http.MethodGet, "/readyz", "").JSON(t, &body)
	if _, ok := body.Checks["redis"]; ok {
		t.Fatal("a redis readiness check exists without Redis")
	}
}

func TestModuleStartsPingsAndChecks(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	var c rueidis.Client
	a := apptest.New(t, apex.Modules, apptest.Config(map[string]any{"redis.addr": addr}), apptest.With(fx.Populate(&c)))
	if err := c.Do(context.Background(), c.B().Ping().Build()).Error(); err != nil {
		t.Fatalf("PING through the module's client: %v", err)
	}
	r := a.Do(t, http.MethodGet, "/readyz", "")
	if r.StatusCode != http.StatusOK || !strings.Contains(string(r.Body), `"redis"`) {
		t.Fatalf("/readyz = %d %s; want 200 listing the redis check", r.StatusCode, r.Body)
	}
	if m := string(a.Do(t, http.MethodGet, "/metrics", "").Body); !strings.Contains(m, "apex_redis_up 1") || !strings.Contains(m, "apex_redis_rejected_total 0") {
		t.Fatalf("/metrics lacks apex_redis_up 1 and apex_redis_rejected_total 0 with Redis up")
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(context.Background(), c.B().Ping().Build()).Error(); err == nil {
		t.Fatal("the client still answers after stop; the module must close it")
	}
}

func TestModuleUnreachableIsAStartError(t *testing.T) {
	t.Parallel()
	_, err := apptest.Start(t, apex.Modules, apptest.Config(map[string]any{"redis.addr": closedAddr(t), "redis.dial_timeout": "1s"}))
	if err == nil || !strings.Contains(err.Error(), "APP_REDIS__ADDR") {
		t.Fatalf("start with Redis down: %v; want an error naming redis.addr", err)
	}
}

// With tracing on, commands are traced and counted through rueidisotel,
// whose OpenTelemetry metrics reach /metrics through observe's bridge.
func TestModuleTracesAndMeasuresWithTracingOn(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	var c rueidis.Client
	a := apptest.New(t, apex.Modules,
		apptest.Config(map[string]any{"redis.addr": addr, "observe.tracing.endpoint": "http://" + closedAddr(t)}),
		apptest.With(fx.Populate(&c)))
	if err := c.Do(context.Background(), c.B().Ping().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	body := string(a.Do(t, http.MethodGet, "/metrics", "").Body)
	for _, want := range []string{"rueidis_dial_success", "rueidis_dial_conns"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s with tracing on", want)
		}
	}
	spans := a.Spans()
	found := false
	for _, s := range spans {
		found = found || strings.Contains(strings.ToUpper(s.Name), "PING")
	}
	if !found {
		t.Errorf("no span for the PING among %d spans", len(spans))
	}
}

// TestNewSilentServer: a server that accepts connections but never
// answers (a frozen Redis, a wrong port) fails the start within
// redis.command_timeout, which bounds the handshake after the connect,
// with the message docs/cache.md quotes.
func TestNewSilentServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	cfg := redisconn.DefaultConfig()
	cfg.Addr, cfg.CommandTimeout = ln.Addr().String(), 300*time.Millisecond
	start := time.Now()
	c, err := redisconn.New(context.Background(), cfg, redisconn.Params{})
	took := time.Since(start)
	if err == nil {
		c.Close()
		t.Fatal("New against a silent server: no error")
	}
	want := "redis.addr (APP_REDIS__ADDR): cannot connect to Redis at [" + cfg.Addr + "]: "
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q; want it to start with %q", err, want)
	}
	if took > cfg.CommandTimeout+time.Second {
		t.Errorf("New took %v against a silent server; want about command_timeout %v", took, cfg.CommandTimeout)
	}
}
