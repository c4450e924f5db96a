package queuetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
)

// TestEvents: every status change reaches the sinks, in order.
func TestEvents(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 1)
	queue.Handle(e.c.Worker(), "ev", func(ctx context.Context, j queue.Job[Payload]) error {
		if j.Attempt == 1 {
			return errors.New("first fails")
		}
		return j.Progress(ctx, 100, "done")
	}, queue.On(e.queue), queue.Backoff(func(int) time.Duration { return 10 * time.Millisecond }))
	e.start()
	id := e.enqueue("ev", Payload{})
	e.waitState(id, queue.Succeeded)
	want := []string{"running", "retrying", "running", "progress", "succeeded"}
	eventually(t, 5*time.Second, "events", func() bool { return len(e.sink.of(id)) >= len(want) })
	if got := e.sink.of(id); !slices.Equal(got, want) {
		t.Fatalf("events %v; want %v", got, want)
	}
	bad := e.enqueue("ev", Payload{}, queue.MaxAttempts(1))
	e.waitState(bad, queue.Dead)
	eventually(t, 5*time.Second, "dead event", func() bool { return slices.Equal(e.sink.of(bad), []string{"running", "dead"}) })
	c := e.enqueue("ev", Payload{}, queue.Delay(time.Hour))
	_, err := e.c.Cancel(t.Context(), c)
	must(t, err)
	if got := e.sink.of(c); !slices.Equal(got, []string{"canceled"}) {
		t.Fatalf("cancel events %v", got)
	}
}
