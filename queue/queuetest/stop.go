package queuetest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
)

// TestGracefulStop: Stop lets a running job finish within its budget;
// a job still running when the budget ends is not acknowledged and runs
// again on another worker.
func TestGracefulStop(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 2)
	started := make(chan string, 4)
	var calls atomic.Int32
	queue.Handle(e.c.Worker(), "slow", func(ctx context.Context, j queue.Job[Payload]) error {
		calls.Add(1)
		started <- j.ID
		if j.Payload.N == 1 { // ignores ctx: runs past any budget
			time.Sleep(1500 * time.Millisecond)
			return nil
		}
		time.Sleep(300 * time.Millisecond)
		return nil
	}, queue.On(e.queue))
	if err := e.c.Worker().Start(); err != nil {
		t.Fatal(err)
	}
	quick := e.enqueue("slow", Payload{N: 0})
	<-started
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	must(t, e.c.Worker().Stop(ctx))
	cancel()
	if st, _ := e.c.Status(t.Context(), quick); st.State != queue.Succeeded {
		t.Fatalf("a job running at Stop did not finish: %+v", st)
	}

	w2 := setupOn(t, e.b, e.prefix, e.queue, 2)
	queue.Handle(w2.c.Worker(), "slow", func(ctx context.Context, j queue.Job[Payload]) error {
		calls.Add(1)
		started <- j.ID
		if j.Attempt == 1 {
			time.Sleep(1500 * time.Millisecond)
		}
		return nil
	}, queue.On(e.queue))
	if err := w2.c.Worker().Start(); err != nil {
		t.Fatal(err)
	}
	stuck := w2.enqueue("slow", Payload{N: 1})
	<-started
	ctx, cancel = context.WithTimeout(t.Context(), 200*time.Millisecond)
	if err := w2.c.Worker().Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop past its budget: %v; want DeadlineExceeded", err)
	}
	cancel()
	if st, _ := w2.c.Status(t.Context(), stuck); st.State.Terminal() {
		t.Fatalf("an unfinished job was settled at Stop: %+v", st)
	}
	w3 := setupOn(t, e.b, e.prefix, e.queue, 2)
	queue.Handle(w3.c.Worker(), "slow", func(context.Context, queue.Job[Payload]) error { return nil }, queue.On(e.queue))
	w3.start()
	st := w3.waitState(stuck, queue.Succeeded)
	if st.Attempts != 1 {
		t.Fatalf("abandoned job: %+v; the abandoned attempt should not count", st)
	}
}
