package queuetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
)

// TestBatch: EnqueueMany stores every job, in order, and each runs once.
func TestBatch(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 8)
	var mu sync.Mutex
	seen := map[int]int{}
	queue.Handle(e.c.Worker(), "n", func(_ context.Context, j queue.Job[Payload]) error {
		mu.Lock()
		seen[j.Payload.N]++
		mu.Unlock()
		return nil
	}, queue.On(e.queue))
	items := make([]queue.Item, 200)
	for i := range items {
		items[i] = queue.Item{Kind: "n", Payload: Payload{N: i}, Options: []queue.Option{queue.On(e.queue)}}
	}
	res, err := e.c.EnqueueMany(t.Context(), items...)
	must(t, err)
	if len(res) != len(items) {
		t.Fatalf("%d results for %d jobs", len(res), len(items))
	}
	for i, r := range res {
		if r.Err != nil || r.Duplicate || queue.QueueOf(r.ID) != e.queue {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	e.start()
	eventually(t, 20*time.Second, "200 jobs run", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == len(items)
	})
	e.waitState(res[len(res)-1].ID, queue.Succeeded)
	mu.Lock()
	defer mu.Unlock()
	for n, c := range seen {
		if c != 1 {
			t.Fatalf("job %d ran %d times", n, c)
		}
	}
}
