package queuetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/apexgo/apex/queue"
)

// TestEnqueueRun: a job runs once with its payload and ends succeeded
// with its result.
func TestEnqueueRun(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 2)
	got := make(chan queue.Job[Payload], 2)
	queue.Handle(e.c.Worker(), "echo", func(_ context.Context, j queue.Job[Payload]) error {
		got <- j
		return j.SetResult(map[string]int{"double": j.Payload.N * 2})
	}, queue.On(e.queue))
	e.start()
	id := e.enqueue("echo", Payload{N: 21, Text: "héllo"})
	if queue.QueueOf(id) != e.queue {
		t.Fatalf("ID %q does not name queue %q", id, e.queue)
	}
	j := <-got
	if j.ID != id || j.Kind != "echo" || j.Queue != e.queue || j.Payload != (Payload{N: 21, Text: "héllo"}) || j.Attempt != 1 {
		t.Fatalf("handler got %+v", j)
	}
	st := e.waitState(id, queue.Succeeded)
	var res map[string]int
	if err := json.Unmarshal(st.Result, &res); err != nil || res["double"] != 42 {
		t.Fatalf("result %q (%v)", st.Result, err)
	}
	if st.Attempts != 1 || st.FinishedAt.IsZero() || st.StartedAt.IsZero() || st.EnqueuedAt.IsZero() {
		t.Fatalf("record %+v", st)
	}
	select {
	case j := <-got:
		t.Fatalf("ran twice: %+v", j)
	default:
	}
}
