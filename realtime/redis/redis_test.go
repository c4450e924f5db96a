package redis_test

import (
	"context"
	"testing"

	"github.com/apexgo/apex/internal/testservice"
	"github.com/apexgo/apex/realtime/port"
	"github.com/apexgo/apex/realtime/realtimetest"
	"github.com/apexgo/apex/realtime/redis"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	prefix := testservice.Unique("apexrt")
	realtimetest.Run(t, realtimetest.Features{Shared: true}, func(t *testing.T) port.Hub {
		h, err := redis.New(redis.Config{Addr: addr, Prefix: prefix}, realtimetest.HubConfig())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Shutdown(context.Background()) })
		return h
	})
}
