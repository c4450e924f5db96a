package queuetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
)

// TestUnique: of 50 concurrent enqueues with one unique key, one stores a
// job and 49 return its ID with ErrDuplicate; once it finishes, the key
// is free again.
func TestUnique(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 1)
	release := make(chan struct{})
	queue.Handle(e.c.Worker(), "once", func(ctx context.Context, _ queue.Job[Payload]) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}, queue.On(e.queue))
	var wg sync.WaitGroup
	ids := make([]string, 50)
	errs := make([]error, 50)
	for i := range 50 {
		wg.Go(func() {
			ids[i], errs[i] = e.c.Enqueue(t.Context(), "once", Payload{N: i}, queue.On(e.queue), queue.Unique("report:7", time.Hour))
		})
	}
	wg.Wait()
	stored, dup := "", 0
	for i := range 50 {
		switch {
		case errs[i] == nil:
			if stored != "" {
				t.Fatalf("two jobs stored under one unique key: %s and %s", stored, ids[i])
			}
			stored = ids[i]
		case errors.Is(errs[i], queue.ErrDuplicate):
			dup++
		default:
			t.Fatalf("enqueue %d: %v", i, errs[i])
		}
	}
	if stored == "" || dup != 49 {
		t.Fatalf("stored %q, %d duplicates", stored, dup)
	}
	for i := range 50 {
		if ids[i] != stored {
			t.Fatalf("duplicate %d returned ID %q, not the stored job's %q", i, ids[i], stored)
		}
	}
	other, err := e.c.Enqueue(t.Context(), "once", Payload{}, queue.On(e.queue), queue.Unique("report:8", time.Hour))
	if err != nil || other == stored {
		t.Fatalf("another key: %q, %v", other, err)
	}
	e.start()
	close(release)
	e.waitState(stored, queue.Succeeded)
	again, err := e.c.Enqueue(t.Context(), "once", Payload{}, queue.On(e.queue), queue.Unique("report:7", time.Hour))
	if err != nil || again == stored {
		t.Fatalf("after the job finished, the key should be free: %q, %v", again, err)
	}
	// A short window ends on its own, even while the job waits.
	short, err := e.c.Enqueue(t.Context(), "once", Payload{}, queue.On(e.queue), queue.Unique("w", 100*time.Millisecond), queue.Delay(time.Hour))
	must(t, err)
	time.Sleep(250 * time.Millisecond)
	if next, err := e.c.Enqueue(t.Context(), "once", Payload{}, queue.On(e.queue), queue.Unique("w", time.Hour)); err != nil || next == short {
		t.Fatalf("after the window: %q, %v", next, err)
	}
}
