package queuetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
)

// TestShared: two backend instances on one prefix (two processes) share
// the jobs: each runs once, and both take part.
func TestShared(t *testing.T, f Features, newBackend NewBackend) {
	if !f.Shared {
		t.Skip("the backend is not shared between processes")
	}
	prefix, q := Prefix(), QueueName()
	var mu sync.Mutex
	ran := map[int]int{}
	by := map[*queue.Client]int{}
	var envs []*env
	for range 2 {
		e := setupOn(t, newBackend(t, prefix), prefix, q, 4)
		c := e.c
		queue.Handle(c.Worker(), "s", func(context.Context, queue.Job[Payload]) error {
			time.Sleep(5 * time.Millisecond)
			return nil
		}, queue.On(q))
		envs = append(envs, e)
	}
	for _, e := range envs {
		c := e.c
		queue.Handle(c.Worker(), "count", func(_ context.Context, j queue.Job[Payload]) error {
			mu.Lock()
			ran[j.Payload.N]++
			by[c]++
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
			return nil
		}, queue.On(q))
		e.start()
	}
	items := make([]queue.Item, 300)
	for i := range items {
		items[i] = queue.Item{Kind: "count", Payload: Payload{N: i}, Options: []queue.Option{queue.On(q)}}
	}
	_, err := envs[0].c.EnqueueMany(t.Context(), items...)
	must(t, err)
	eventually(t, 30*time.Second, "300 shared jobs", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ran) == len(items)
	})
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for n, c := range ran {
		if c != 1 {
			t.Fatalf("job %d ran %d times", n, c)
		}
	}
	if len(by) != 2 {
		t.Fatalf("one instance ran every job: %v", by)
	}
}
