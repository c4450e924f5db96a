package queuetest

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
)

// TestCancel: a canceled waiting job never runs; a running one has its
// ctx canceled and stays canceled; a finished or unknown one cannot be
// canceled.
func TestCancel(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 2)
	var ranDelayed atomic.Bool
	started := make(chan struct{}, 1)
	queue.Handle(e.c.Worker(), "delayed", func(context.Context, queue.Job[Payload]) error {
		ranDelayed.Store(true)
		return nil
	}, queue.On(e.queue))
	queue.Handle(e.c.Worker(), "long", func(ctx context.Context, _ queue.Job[Payload]) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}, queue.On(e.queue))
	e.start()

	id := e.enqueue("delayed", Payload{}, queue.Delay(300*time.Millisecond))
	st, err := e.c.Cancel(t.Context(), id)
	if err != nil || st.State != queue.Canceled {
		t.Fatalf("Cancel of a delayed job: %+v, %v", st, err)
	}
	pending := e.enqueue("delayed", Payload{}, queue.Delay(time.Hour))
	if _, err := e.c.Cancel(t.Context(), pending); err != nil {
		t.Fatal(err)
	}

	long := e.enqueue("long", Payload{})
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("long job did not start")
	}
	if st, err := e.c.Cancel(t.Context(), long); err != nil || st.State != queue.Canceled {
		t.Fatalf("Cancel of a running job: %+v, %v", st, err)
	}
	time.Sleep(700 * time.Millisecond)
	if ranDelayed.Load() {
		t.Fatal("a canceled job ran")
	}
	if got := e.sink.of(long); !slices.Equal(got, []string{"running", "canceled"}) {
		t.Fatalf("events of the canceled running job: %v; want [running canceled]", got)
	}
	for _, id := range []string{id, long} {
		if st, err := e.c.Status(t.Context(), id); err != nil || st.State != queue.Canceled {
			t.Fatalf("job %s after cancel: %+v, %v", id, st, err)
		}
	}
	if _, err := e.c.Cancel(t.Context(), id); !errors.Is(err, queue.ErrFinished) {
		t.Fatalf("second Cancel: %v; want ErrFinished", err)
	}
	if _, err := e.c.Cancel(t.Context(), e.queue+".nosuchjob"); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("Cancel of an unknown job: %v; want ErrNotFound", err)
	}
	if _, err := e.c.Status(t.Context(), "garbage"); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("Status of a malformed ID: %v; want ErrNotFound", err)
	}
}
