package queuetest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
)

// TestDeadLetters: failed jobs are listed newest first, replayed one or
// all (running again from attempt 1) and purged one or all.
func TestDeadLetters(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 2)
	var fix atomic.Bool
	queue.Handle(e.c.Worker(), "dl", func(context.Context, queue.Job[Payload]) error {
		if fix.Load() {
			return nil
		}
		return queue.Permanent(errors.New("broken"))
	}, queue.On(e.queue))
	e.start()
	ids := make([]string, 4)
	for i := range ids {
		ids[i] = e.enqueue("dl", Payload{N: i})
		e.waitState(ids[i], queue.Failed)
		time.Sleep(5 * time.Millisecond) // distinct dead times
	}
	dl, err := e.c.DeadLetters()
	must(t, err)
	list, err := dl.Dead(t.Context(), e.queue, 0, 10)
	must(t, err)
	if len(list) != 4 || list[0].ID != ids[3] || list[3].ID != ids[0] {
		t.Fatalf("dead letters %v; want newest first", statusIDs(list))
	}
	if page, _ := dl.Dead(t.Context(), e.queue, 1, 2); len(page) != 2 || page[0].ID != ids[2] {
		t.Fatalf("page %v", statusIDs(page))
	}
	fix.Store(true)
	if n, err := dl.Replay(t.Context(), e.queue, ids[0]); err != nil || n != 1 {
		t.Fatalf("Replay one: %d, %v", n, err)
	}
	st := e.waitState(ids[0], queue.Succeeded)
	if st.Attempts != 1 {
		t.Fatalf("replayed job: %+v; want attempts from zero", st)
	}
	if n, err := dl.Purge(t.Context(), e.queue, ids[1]); err != nil || n != 1 {
		t.Fatalf("Purge one: %d, %v", n, err)
	}
	if _, err := e.c.Status(t.Context(), ids[1]); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("purged job: %v", err)
	}
	if n, err := dl.Replay(t.Context(), e.queue); err != nil || n != 2 {
		t.Fatalf("Replay all: %d, %v", n, err)
	}
	e.waitState(ids[2], queue.Succeeded)
	e.waitState(ids[3], queue.Succeeded)
	fix.Store(false)
	gone := e.enqueue("dl", Payload{})
	e.waitState(gone, queue.Failed)
	if n, err := dl.Purge(t.Context(), e.queue); err != nil || n != 1 {
		t.Fatalf("Purge all: %d, %v", n, err)
	}
	if list, _ := dl.Dead(t.Context(), e.queue, 0, 10); len(list) != 0 {
		t.Fatalf("after purge: %v", statusIDs(list))
	}
}

func statusIDs(ss []queue.Status) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}
