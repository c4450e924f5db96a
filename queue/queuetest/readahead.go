package queuetest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
)

// TestReadAhead: a worker whose jobs are short fetches the next job
// while its only slot is busy (the job's record says running, attempt
// 1); Stop gives that job back unstarted, its attempt uncounted, and
// another worker runs it.
func TestReadAhead(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 1)
	started := make(chan struct{})
	release := make(chan struct{})
	var ranX atomic.Int32
	queue.Handle(e.c.Worker(), "ra", func(_ context.Context, j queue.Job[Payload]) error {
		switch j.Payload.N {
		case 1:
			close(started)
			<-release
		case 2:
			ranX.Add(1)
		}
		return nil
	}, queue.On(e.queue))
	e.start()
	// Short jobs first: the worker learns that its jobs take well under
	// readAheadBelow.
	var last string
	for range 50 {
		last = e.enqueue("ra", Payload{N: 0})
	}
	e.waitState(last, queue.Succeeded)
	blocker := e.enqueue("ra", Payload{N: 1})
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the blocking job did not start")
	}
	x := e.enqueue("ra", Payload{N: 2})
	if st := e.waitState(x, queue.Running); st.Attempts != 1 {
		t.Fatalf("job read ahead: %+v; want running, attempt 1", st)
	}
	if ranX.Load() != 0 {
		t.Fatal("the job read ahead ran while the only slot was busy")
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- e.c.Worker().Stop(ctx)
	}()
	// Given back at once, while the running job still runs.
	st := e.wait(x, 10*time.Second, func(st queue.Status) bool { return st.State == queue.Pending })
	if st.Attempts != 0 {
		t.Fatalf("job given back: %+v; its attempt should not count", st)
	}
	close(release)
	must(t, <-stopped)
	e.waitState(blocker, queue.Succeeded)
	if ranX.Load() != 0 {
		t.Fatal("the job given back at Stop ran on the stopped worker")
	}

	w2 := setupOn(t, e.b, e.prefix, e.queue, 1)
	queue.Handle(w2.c.Worker(), "ra", func(context.Context, queue.Job[Payload]) error { return nil }, queue.On(e.queue))
	w2.start()
	if st := w2.waitState(x, queue.Succeeded); st.Attempts != 1 {
		t.Fatalf("job given back, then run: %+v; want attempt 1", st)
	}
}
