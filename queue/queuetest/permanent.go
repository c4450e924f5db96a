package queuetest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
)

// TestPermanent: a Permanent error ends the job failed after one attempt,
// in the dead letters.
func TestPermanent(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 1)
	var calls atomic.Int32
	queue.Handle(e.c.Worker(), "bad", func(context.Context, queue.Job[Payload]) error {
		calls.Add(1)
		return queue.Permanent(errors.New("no such user"))
	}, queue.On(e.queue))
	e.start()
	id := e.enqueue("bad", Payload{})
	st := e.waitState(id, queue.Failed)
	if st.Attempts != 1 || st.LastError != "permanent: no such user" {
		t.Fatalf("record %+v", st)
	}
	time.Sleep(300 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Fatalf("ran %d times", n)
	}
	dl, err := e.c.DeadLetters()
	must(t, err)
	dead, err := dl.Dead(t.Context(), e.queue, 0, 10)
	must(t, err)
	if len(dead) != 1 || dead[0].ID != id || dead[0].State != queue.Failed {
		t.Fatalf("dead letters %+v", dead)
	}
}
