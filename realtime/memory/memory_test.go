package memory_test

import (
	"context"
	"testing"

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
