package queuetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
)

// TestPriority: with jobs of all priorities waiting and one worker, the
// first ten run in proportion to the weights (6 High, 3 Normal, 1 Low),
// so that higher ones go first and lower ones are not starved.
func TestPriority(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 1)
	var mu sync.Mutex
	var order []queue.Priority
	queue.Handle(e.c.Worker(), "p", func(_ context.Context, j queue.Job[Payload]) error {
		mu.Lock()
		order = append(order, queue.Priority(j.Payload.N))
		mu.Unlock()
		return nil
	}, queue.On(e.queue))
	var items []queue.Item
	for range 10 {
		for _, p := range []queue.Priority{queue.Low, queue.Normal, queue.High} {
			items = append(items, queue.Item{Kind: "p", Payload: Payload{N: int(p)}, Options: []queue.Option{queue.On(e.queue), queue.WithPriority(p)}})
		}
	}
	_, err := e.c.EnqueueMany(t.Context(), items...)
	must(t, err)
	e.start()
	eventually(t, 20*time.Second, "30 jobs run", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) == 30
	})
	mu.Lock()
	defer mu.Unlock()
	count := map[queue.Priority]int{}
	for _, p := range order[:10] {
		count[p]++
	}
	if count[queue.High] < 5 || count[queue.Low] > 2 || count[queue.Low] < 1 {
		t.Fatalf("first ten jobs by priority: %v (order %v); want about 6 High, 3 Normal, 1 Low", count, order)
	}
}
