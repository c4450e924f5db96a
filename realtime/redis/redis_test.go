package redis_test

import (
	"context"
	"errors"
	"fmt"
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

// History written through one instance outlives it: another instance on
// the same Redis reads it after the first is gone.
func TestHistorySurvivesInstanceDeath(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	cfg := redis.Config{Addr: addr, Prefix: testservice.Unique("apexrtdeath")}
	a, err := redis.New(cfg, realtimetest.HubConfig())
	if err != nil {
		t.Fatal(err)
	}
	ch := realtimetest.Channel(realtimetest.Namespace)
	for i := range 5 {
		if _, err := a.Publish(t.Context(), ch, fmt.Appendf(nil, `{"i":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(t.Context(), ch, []byte(`{}`)); !errors.Is(err, port.ErrClosed) {
		t.Fatalf("Publish after Shutdown: %v, want ErrClosed", err)
	}
	b, err := redis.New(cfg, realtimetest.HubConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown(context.Background()) })
	h, err := b.History(t.Context(), ch, port.HistoryParams{Limit: -1})
	if err != nil || len(h.Publications) != 5 || string(h.Publications[4].Data) != `{"i":4}` {
		t.Fatalf("history on B after A died: %d publications, %v", len(h.Publications), err)
	}
}
