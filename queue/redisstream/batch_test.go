package redisstream_test

import (
	"context"
	"testing"
	"time"

	"github.com/apexgo/apex/internal/testservice"
	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/port"
)

// A job that fails inside a batched script (a key of the wrong type, a
// corrupt record) fails alone: the other jobs of the batch are enqueued,
// started and settled as if it were not there, and it wrote nothing.
func TestBatchScriptJobErrorsStayPerJob(t *testing.T) {
	t.Parallel()
	c := connect(t, testservice.Need(t, testservice.Redis))
	prefix := "apex-test-" + queue.NewID("t") + ":"
	q := newBackend(c)(t, prefix)
	ctx := t.Context()
	tag := "{" + prefix + "q}"
	// A unique key taken by a value of the wrong type: GET fails with WRONGTYPE.
	if err := c.Do(ctx, c.B().Hset().Key(tag+":u:bad").FieldValue().FieldValue("x", "y").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	msgs := make([]port.Message, 5)
	for i := range msgs {
		msgs[i] = port.Message{ID: queue.NewID("q"), Kind: "k", Queue: "q", Payload: []byte(`{}`), MaxAttempts: 3}
	}
	msgs[2].UniqueKey, msgs[2].UniqueFor = "bad", time.Minute
	res, err := q.Enqueue(ctx, msgs)
	if err != nil {
		t.Fatalf("Enqueue: %v (one job's failure failed the batch)", err)
	}
	for i, r := range res {
		if i == 2 {
			if r.Err == nil {
				t.Fatalf("the job with the broken unique key: %+v; want its own error", r)
			}
			if _, err := q.Status(ctx, msgs[2].ID); err != port.ErrNotFound {
				t.Fatalf("the failed job was written: %v", err)
			}
			continue
		}
		if r.Err != nil || r.Duplicate || r.ID != msgs[i].ID {
			t.Fatalf("job %d: %+v", i, r)
		}
	}

	// Corrupt one stored record: its max attempts is no number.
	if err := c.Do(ctx, c.B().Hset().Key(tag+":j:"+msgs[1].ID).FieldValue().FieldValue("max", "many").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	ds, err := q.Fetch(ctx, port.FetchParams{Queue: "q", Max: 10, Wait: time.Second})
	if err != nil {
		t.Fatalf("Fetch: %v (one job's failure failed the batch)", err)
	}
	if len(ds) != 3 {
		t.Fatalf("fetched %d jobs; want the 3 sound ones", len(ds))
	}
	for _, d := range ds {
		if d.Message.ID == msgs[1].ID {
			t.Fatal("the corrupt job was delivered")
		}
	}
	st, err := q.Status(ctx, msgs[1].ID)
	if err != nil || st.State != port.Pending || st.Attempts != 0 {
		t.Fatalf("the corrupt job: %+v, %v; want untouched (pending, no attempt)", st, err)
	}

	// Settle the three, one of them with a record replaced by a string.
	if err := c.Do(ctx, c.B().Set().Key(tag+":j:"+ds[0].Message.ID).Value("garbage").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	ss := make([]port.Settlement, len(ds))
	for i, d := range ds {
		ss[i] = port.Settlement{Delivery: d, Outcome: port.Succeed}
	}
	if err := q.Settle(ctx, ss); err == nil {
		t.Fatal("Settle reported no error for the broken record")
	}
	for _, d := range ds[1:] {
		st, err := q.Status(ctx, d.Message.ID)
		if err != nil || st.State != port.Succeeded {
			t.Fatalf("a sound job settled in the same batch: %+v, %v", st, err)
		}
	}
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	pending, err := c.Do(ctx2, c.B().Xpending().Key(tag+":s:2").Group("workers").Build()).ToArray()
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := pending[0].AsInt64(); n != 2 {
		t.Fatalf("%d entries pending; want 2 (the corrupt one and the broken record's), the others acknowledged", n)
	}
}
