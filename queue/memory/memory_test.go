package memory_test

import (
	"errors"
	"fmt"
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
