package queuetest

import (
	"context"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
)

// TestDelay: a delayed job is scheduled, does not run before its time,
// and runs after it.
func TestDelay(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 2)
	ran := make(chan time.Time, 2)
	queue.Handle(e.c.Worker(), "later", func(context.Context, queue.Job[Payload]) error {
		ran <- time.Now()
		return nil
	}, queue.On(e.queue))
	e.start()
	const delay = 700 * time.Millisecond
	start := time.Now()
	id := e.enqueue("later", Payload{}, queue.Delay(delay))
	st, err := e.c.Status(t.Context(), id)
	must(t, err)
	if st.State != queue.Scheduled || st.RunAt.IsZero() {
		t.Fatalf("delayed job right after enqueue: %+v", st)
	}
	at := e.enqueue("later", Payload{}, queue.At(time.Now().Add(delay)))
	for range 2 {
		select {
		case r := <-ran:
			if early := r.Sub(start); early < delay-50*time.Millisecond { // clocks in ms
				t.Fatalf("delayed job ran after %v, before its %v delay", early, delay)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("delayed job did not run")
		}
	}
	e.waitState(id, queue.Succeeded)
	e.waitState(at, queue.Succeeded)
}
