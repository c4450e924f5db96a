package queuetest

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apexgo/apex/queue"
)

// TestPoison: a payload that does not decode goes straight to the dead
// letters with the decode error; the handler never runs.
func TestPoison(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 1)
	var calls atomic.Int32
	queue.Handle(e.c.Worker(), "typed", func(context.Context, queue.Job[Payload]) error {
		calls.Add(1)
		return nil
	}, queue.On(e.queue))
	e.start()
	id := e.enqueue("typed", map[string]string{"n": "not a number"})
	st := e.waitState(id, queue.Dead)
	if st.Attempts != 1 || !strings.Contains(st.LastError, "undecodable") {
		t.Fatalf("record %+v", st)
	}
	if calls.Load() != 0 {
		t.Fatal("the handler ran on an undecodable payload")
	}
}
