package queuetest

import (
	"context"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
)

// TestUnknownKind: a job of a kind this worker does not handle is left
// for one that does, never dropped nor counted as an attempt.
func TestUnknownKind(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 1)
	queue.Handle(e.c.Worker(), "known", func(context.Context, queue.Job[Payload]) error { return nil }, queue.On(e.queue))
	e.start()
	id := e.enqueue("other", Payload{})
	time.Sleep(500 * time.Millisecond)
	st, err := e.c.Status(t.Context(), id)
	must(t, err)
	if st.State.Terminal() || st.Attempts != 0 {
		t.Fatalf("a job of an unhandled kind: %+v", st)
	}
	// A second worker on the same backend that handles it runs it.
	other := setupOn(t, e.b, e.prefix, e.queue, 1)
	queue.Handle(other.c.Worker(), "other", func(context.Context, queue.Job[Payload]) error { return nil }, queue.On(e.queue))
	other.start()
	// The first worker still fetches too, and puts the job back for
	// ReleaseDelay (1s) each time it reads it first: which worker reads
	// it next is a race each time, so allow many rounds.
	st = other.wait(id, time.Minute, func(st queue.Status) bool { return st.State == queue.Succeeded })
	if st.Attempts != 1 {
		t.Fatalf("record %+v", st)
	}
}
