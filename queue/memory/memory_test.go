package memory_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/queue/memory"
	"github.com/apexgo/apex/queue/port"
	"github.com/apexgo/apex/queue/queuetest"
)

func TestConformance(t *testing.T) {
	queuetest.Run(t, queuetest.Features{Durable: false, Shared: false}, func(t *testing.T, _ string) port.Queue {
		q, err := memory.New(memory.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = q.Close() })
		return q
	})
}

func msg(i int) port.Message {
	return port.Message{ID: fmt.Sprintf("q.%d", i), Kind: "k", Queue: "q", MaxAttempts: 3}
}

// A full queue is an error at enqueue, never a block; room comes back as
// jobs finish.
func TestBoundedFullIsAnError(t *testing.T) {
	t.Parallel()
	q, err := memory.New(memory.Config{MaxJobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	res, err := q.Enqueue(t.Context(), []port.Message{msg(1), msg(2), msg(3)})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[1].Err != nil || !errors.Is(res[2].Err, port.ErrFull) {
		t.Fatalf("results %+v; want the third ErrFull", res)
	}
	ds, err := q.Fetch(t.Context(), port.FetchParams{Queue: "q", Max: 1})
	if err != nil || len(ds) != 1 {
		t.Fatalf("Fetch: %v, %v", ds, err)
	}
	if err := q.Settle(t.Context(), []port.Settlement{{Delivery: ds[0], Outcome: port.Succeed}}); err != nil {
		t.Fatal(err)
	}
	if res, _ := q.Enqueue(t.Context(), []port.Message{msg(3)}); res[0].Err != nil {
		t.Fatalf("after a job finished: %v", res[0].Err)
	}
}

// Finished records are bounded and expire after StatusTTL.
func TestFinishedRecordsBoundedAndExpire(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	q, err := memory.New(memory.Config{MaxFinished: 2, StatusTTL: time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := q.Enqueue(t.Context(), []port.Message{msg(i)}); err != nil {
			t.Fatal(err)
		}
		ds, _ := q.Fetch(t.Context(), port.FetchParams{Queue: "q", Max: 1})
		if err := q.Settle(t.Context(), []port.Settlement{{Delivery: ds[0], Outcome: port.Succeed}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Status(t.Context(), "q.0"); !errors.Is(err, port.ErrNotFound) {
		t.Fatalf("oldest record beyond MaxFinished: %v", err)
	}
	if st, err := q.Status(t.Context(), "q.2"); err != nil || st.State != port.Succeeded {
		t.Fatalf("newest record: %+v, %v", st, err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := q.Status(t.Context(), "q.2"); !errors.Is(err, port.ErrNotFound) {
		t.Fatalf("record past StatusTTL: %v", err)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	q, _ := memory.New(memory.Config{})
	_ = q.Close()
	if _, err := q.Enqueue(t.Context(), []port.Message{msg(1)}); !errors.Is(err, port.ErrClosed) {
		t.Fatalf("Enqueue after Close: %v", err)
	}
}

func TestInvalidConfig(t *testing.T) {
	t.Parallel()
	if _, err := memory.New(memory.Config{MaxJobs: -1}); err == nil {
		t.Fatal("negative MaxJobs accepted")
	}
}

// Delays and retries follow the configured clock: a fake one decides
// when a delayed or retrying job is due.
func TestFakeClockDelaysAndRetries(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Unix(2_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	q, _ := memory.New(memory.Config{Now: clock})
	m := msg(1)
	m.RunAt = clock().Add(time.Hour)
	if _, err := q.Enqueue(t.Context(), []port.Message{m}); err != nil {
		t.Fatal(err)
	}
	fetch := func() []port.Delivery {
		ds, err := q.Fetch(t.Context(), port.FetchParams{Queue: "q", Max: 1})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	if ds := fetch(); len(ds) != 0 {
		t.Fatalf("fetched a job due in an hour: %+v", ds)
	}
	advance(time.Hour)
	ds := fetch()
	if len(ds) != 1 || ds[0].Attempt != 1 {
		t.Fatalf("after an hour: %+v", ds)
	}
	if err := q.Settle(t.Context(), []port.Settlement{{Delivery: ds[0], Outcome: port.Retry, Error: "x", RunAt: clock().Add(30 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	if st, _ := q.Status(t.Context(), m.ID); st.State != port.Retrying || st.LastError != "x" {
		t.Fatalf("after a failed attempt: %+v", st)
	}
	advance(29 * time.Second)
	if ds := fetch(); len(ds) != 0 {
		t.Fatal("retried before its backoff ended")
	}
	advance(time.Second)
	if ds := fetch(); len(ds) != 1 || ds[0].Attempt != 2 {
		t.Fatalf("retry: %+v", ds)
	}
}
