package queuetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
)

// TestExhausted: a job failing every attempt is dead after MaxAttempts.
func TestExhausted(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 1)
	queue.Handle(e.c.Worker(), "never", func(context.Context, queue.Job[Payload]) error {
		return errors.New("down")
	}, queue.On(e.queue), queue.Backoff(func(int) time.Duration { return 10 * time.Millisecond }))
	e.start()
	id := e.enqueue("never", Payload{}, queue.MaxAttempts(3))
	st := e.waitState(id, queue.Dead)
	if st.Attempts != 3 || st.MaxAttempts != 3 || st.LastError != "down" {
		t.Fatalf("record %+v", st)
	}
}
