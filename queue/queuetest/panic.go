package queuetest

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apexgo/apex/queue"
)

// TestPanic: a panicking handler is a failed attempt, retried, never a
// crash.
func TestPanic(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 1)
	var calls atomic.Int32
	queue.Handle(e.c.Worker(), "boom", func(context.Context, queue.Job[Payload]) error {
		if calls.Add(1) == 1 {
			panic("kaboom")
		}
		return nil
	}, queue.On(e.queue))
	e.start()
	id := e.enqueue("boom", Payload{})
	st := e.waitState(id, queue.Succeeded)
	if st.Attempts != 2 || !strings.Contains(st.LastError, "kaboom") {
		t.Fatalf("record %+v; want 2 attempts and the panic as last error", st)
	}
}
