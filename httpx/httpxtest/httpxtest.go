// Package httpxtest is the conformance suite of the [httpx.HealthCheck]
// port. Every module's health check runs it (a database ping, a Redis
// ping), and so can a user's own.
package httpxtest

import (
	"context"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/httpx"
)

// Harness is a check against a working dependency and, optionally, one
// against a dependency that is down.
type Harness struct {
	// Healthy must pass.
	Healthy httpx.HealthCheck
	// Unhealthy, if not nil, must fail (an unreachable address, a stopped
	// server) within a few seconds.
	Unhealthy httpx.HealthCheck
}

var nameRE = regexp.MustCompile(`^[a-z0-9_.-]{1,64}$`)

// Run checks the [httpx.HealthCheck] contract. newHarness is called once
// per subtest.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Run("Name", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		for _, c := range []httpx.HealthCheck{h.Healthy, h.Unhealthy} {
			if c != nil && !nameRE.MatchString(c.Name()) {
				t.Fatalf("name %q must match %s", c.Name(), nameRE)
			}
		}
		if h.Healthy.Name() != h.Healthy.Name() {
			t.Fatal("name must be stable")
		}
	})

	t.Run("HealthyPasses", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Healthy.Check(ctx); err != nil {
			t.Fatalf("healthy check failed: %v", err)
		}
	})

	t.Run("ConcurrentCalls", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for range 20 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				errs <- h.Healthy.Check(ctx)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent check failed: %v", err)
			}
		}
	})

	t.Run("CanceledContextReturnsPromptly", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		for _, c := range []httpx.HealthCheck{h.Healthy, h.Unhealthy} {
			if c == nil {
				continue
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			start := time.Now()
			_ = c.Check(ctx)
			if took := time.Since(start); took > time.Second {
				t.Fatalf("%s: check with a canceled context took %v", c.Name(), took)
			}
		}
	})

	t.Run("UnhealthyFails", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		if h.Unhealthy == nil {
			t.Skip("no unhealthy variant")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		if err := h.Unhealthy.Check(ctx); err == nil {
			t.Fatal("check against a dependency that is down passed")
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("failing check took %v with a 2s context", took)
		}
	})
}
