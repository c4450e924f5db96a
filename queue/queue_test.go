package queue_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/memory"
)

func TestExponentialBackoff(t *testing.T) {
	t.Parallel()
	b := queue.ExponentialBackoff(time.Second, 30*time.Second)
	for attempt, full := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 5: 16 * time.Second, 6: 30 * time.Second, 60: 30 * time.Second} {
		for range 100 {
			if d := b(attempt); d < full/2 || d > full {
				t.Fatalf("attempt %d: %v, want within [%v, %v]", attempt, d, full/2, full)
			}
		}
	}
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[b(4)] = true
	}
	if len(seen) < 10 {
		t.Fatalf("no jitter: %d distinct waits of 50", len(seen))
	}
}

func TestPermanent(t *testing.T) {
	t.Parallel()
	base := errors.New("gone")
	err := fmt.Errorf("send: %w", queue.Permanent(base))
	if !queue.IsPermanent(err) || !errors.Is(err, base) {
		t.Fatalf("%v: permanent %v, wraps %v", err, queue.IsPermanent(err), errors.Is(err, base))
	}
	if queue.Permanent(nil) != nil || queue.IsPermanent(base) {
		t.Fatal("Permanent(nil) or a plain error")
	}
}

func TestIDs(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := queue.NewID("mail")
		if !strings.HasPrefix(id, "mail.") || len(id) != len("mail.")+26 || seen[id] {
			t.Fatalf("bad or repeated ID %q", id)
		}
		seen[id] = true
		if queue.QueueOf(id) != "mail" {
			t.Fatalf("QueueOf(%q) = %q", id, queue.QueueOf(id))
		}
	}
	for _, bad := range []string{"", "nodot", ".x", "mail.", "Bad Queue.x", "../etc.x"} {
		if q := queue.QueueOf(bad); q != "" {
			t.Fatalf("QueueOf(%q) = %q", bad, q)
		}
	}
}

// Prepare builds messages without storing them; handing them to the
// backend later stores each once, however often it is done.
func TestPrepareThenEnqueue(t *testing.T) {
	t.Parallel()
	b, _ := memory.New(memory.Config{})
	c, _ := queue.New(queue.Params{Backend: b})
	msgs, err := c.Prepare(t.Context(), queue.Item{Kind: "k", Payload: map[string]int{"n": 1}})
	if err != nil || len(msgs) != 1 || queue.QueueOf(msgs[0].ID) != queue.DefaultQueue || string(msgs[0].Payload) != `{"n":1}` {
		t.Fatalf("Prepare: %+v, %v", msgs, err)
	}
	if _, err := c.Status(t.Context(), msgs[0].ID); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("Prepare stored the job: %v", err)
	}
	for i := range 2 {
		res, err := b.Enqueue(t.Context(), msgs)
		if err != nil || res[0].Duplicate != (i == 1) {
			t.Fatalf("hand-over %d: %+v, %v", i, res, err)
		}
	}
}
