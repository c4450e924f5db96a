package queuetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
)

// TestRetry: a failing attempt is retried after the kind's backoff; the
// record shows retrying with the error, then succeeded after 3 attempts.
func TestRetry(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 2)
	var calls atomic.Int32
	var mu sync.Mutex
	var waits []int
	queue.Handle(e.c.Worker(), "flaky", func(_ context.Context, j queue.Job[Payload]) error {
		if j.Attempt != int(calls.Add(1)) {
			return queue.Permanent(errors.New("attempt numbers skip"))
		}
		if j.Attempt < 3 {
			return errors.New("not yet")
		}
		return nil
	}, queue.On(e.queue), queue.Backoff(func(attempt int) time.Duration {
		mu.Lock()
		waits = append(waits, attempt)
		mu.Unlock()
		return 200 * time.Millisecond
	}))
	e.start()
	id := e.enqueue("flaky", Payload{})
	st := e.wait(id, 10*time.Second, func(st queue.Status) bool { return st.State == queue.Retrying })
	if st.LastError != "not yet" || st.Attempts != 1 {
		t.Fatalf("after the first failure: %+v", st)
	}
	st = e.waitState(id, queue.Succeeded)
	if st.Attempts != 3 || calls.Load() != 3 {
		t.Fatalf("succeeded after %d attempts (%d calls); want 3", st.Attempts, calls.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != 2 || waits[0] != 1 || waits[1] != 2 {
		t.Fatalf("backoff asked for attempts %v; want [1 2]", waits)
	}
}
