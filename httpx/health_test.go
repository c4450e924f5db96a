package httpx_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/httpx/httpxtest"
)

// tcpCheck is the simplest real check: can a TCP connection be opened.
func tcpCheck(name, addr string) httpx.HealthCheck {
	return httpx.CheckFunc(name, func(ctx context.Context) error {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

func TestCheckFuncConformance(t *testing.T) {
	t.Parallel()
	httpxtest.Run(t, httpxtest.Features{Down: true}, func(t *testing.T, down bool) httpx.HealthCheck {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		if down {
			l.Close() // nothing listens there any more
			return tcpCheck("tcp-down", addr)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return tcpCheck("tcp-up", addr)
	})
}

// A check whose dependency cannot be made to go down runs the suite
// without the Down behaviours, and one behaviour can run on its own.
func TestSuiteWithoutDown(t *testing.T) {
	t.Parallel()
	always := func(*testing.T, bool) httpx.HealthCheck {
		return httpx.CheckFunc("always", func(ctx context.Context) error { return ctx.Err() })
	}
	httpxtest.Run(t, httpxtest.Features{}, always)
	t.Run("HealthyPassesAlone", func(t *testing.T) {
		t.Parallel()
		httpxtest.HealthyPasses(t, httpxtest.Features{}, always)
	})
}

// A check that keeps failing logs a WARN when it starts failing and then
// at most once per interval, however often /readyz is probed; it logs at
// INFO when it recovers, and WARN again when it fails again.
func TestFailingCheckLogsOnChangeAndPerInterval(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	down.Store(true)
	check := httpx.CheckFunc("flaky", func(context.Context) error {
		if down.Load() {
			return errors.New("connection refused")
		}
		return nil
	})
	core, logs := observer.New(zapcore.DebugLevel)
	cfg := httpx.DefaultConfig().Health
	cfg.LogInterval = time.Second
	h, err := httpx.NewHealth(cfg, zap.New(core), []httpx.HealthCheck{check})
	if err != nil {
		t.Fatal(err)
	}
	count := func(level zapcore.Level) int { return logs.FilterLevelExact(level).Len() }
	begin := time.Now()
	for range 200 {
		if r := h.Run(context.Background()); r.Status != "fail" {
			t.Fatalf("status %s", r.Status)
		}
	}
	// One line when it started failing, and one per interval since.
	allowed := 1 + int(time.Since(begin)/cfg.LogInterval)
	if n := count(zapcore.WarnLevel); n < 1 || n > allowed {
		t.Fatalf("200 failed probes in %v logged %d WARN lines, want 1 to %d", time.Since(begin), n, allowed)
	}
	before := count(zapcore.WarnLevel)
	time.Sleep(cfg.LogInterval)
	h.Run(context.Background())
	warns := logs.FilterLevelExact(zapcore.WarnLevel).All()
	if len(warns) != before+1 || warns[len(warns)-1].Message != "health check still failing" || warns[len(warns)-1].ContextMap()["failed_probes_not_logged"].(int64) < 1 {
		t.Fatalf("after the interval: %+v", warns)
	}
	down.Store(false)
	h.Run(context.Background())
	h.Run(context.Background())
	if infos := logs.FilterMessage("health check recovered").Len(); infos != 1 {
		t.Fatalf("recovery logged %d times, want 1", infos)
	}
	down.Store(true)
	h.Run(context.Background())
	if n := count(zapcore.WarnLevel); n != before+2 {
		t.Fatalf("failing again logged %d WARN lines in all, want %d", n, before+2)
	}
}
