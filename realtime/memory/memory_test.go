package memory_test

import (
	"context"
	"testing"

	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/httpx/httpxtest"
	"github.com/apexgo/apex/realtime/memory"
	"github.com/apexgo/apex/realtime/port"
	"github.com/apexgo/apex/realtime/realtimetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	realtimetest.Run(t, realtimetest.Features{}, func(t *testing.T) port.Hub {
		h, err := memory.New(realtimetest.HubConfig())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Shutdown(context.Background()) })
		return h
	})
}

// The hub's readiness check (what the module registers as "realtime")
// passes the health-check suite; the memory broker cannot be down.
func TestHealthCheckConformance(t *testing.T) {
	t.Parallel()
	httpxtest.Run(t, httpxtest.Features{}, func(t *testing.T, _ bool) httpx.HealthCheck {
		h, err := memory.New(realtimetest.HubConfig())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Shutdown(context.Background()) })
		return httpx.CheckFunc("realtime", h.Check)
	})
}
