package queuetest

import (
	"errors"
	"testing"

	"github.com/apexgo/apex/queue"
)

// TestDuplicateID: a job with a deterministic ID is stored once; enqueuing
// the ID again returns it with ErrDuplicate (the basis of once-per-tick
// cron and of the outbox relay's harmless re-sends).
func TestDuplicateID(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 1)
	id := e.queue + ".tick-2026-01-01T00:00"
	got, err := e.c.Enqueue(t.Context(), "tick", Payload{}, queue.On(e.queue), queue.ID(id))
	if err != nil || got != id {
		t.Fatalf("first: %q, %v", got, err)
	}
	got, err = e.c.Enqueue(t.Context(), "tick", Payload{N: 2}, queue.On(e.queue), queue.ID(id))
	if !errors.Is(err, queue.ErrDuplicate) || got != id {
		t.Fatalf("second: %q, %v; want the same ID with ErrDuplicate", got, err)
	}
	if _, err := e.c.Enqueue(t.Context(), "tick", Payload{}, queue.On(e.queue), queue.ID("other.x")); err == nil {
		t.Fatal("an ID naming another queue was accepted")
	}
	res, err := e.c.EnqueueMany(t.Context(), queue.Item{Kind: "tick", Options: []queue.Option{queue.On(e.queue), queue.ID(id)}},
		queue.Item{Kind: "tick", Options: []queue.Option{queue.On(e.queue), queue.ID(id + "b")}})
	must(t, err)
	if !res[0].Duplicate || res[1].Duplicate || res[1].ID != id+"b" {
		t.Fatalf("batch %+v", res)
	}
}
