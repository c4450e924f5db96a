package outbox_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/memory"
	"github.com/apexgo/apex/queue/outbox"
	"github.com/apexgo/apex/queue/port"
)

// databases are the three drivers, each test on a schema, database or
// file of its own.
var databases = map[string]func(t testing.TB) string{
	"postgres": datatest.PostgresDSN,
	"mariadb":  datatest.MySQLDSN,
	"sqlite":   datatest.SQLiteDSN,
}

func forEachDB(t *testing.T, f func(t *testing.T, dsn string)) {
	for name, dsn := range databases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, dsn(t))
		})
	}
}

// openDB opens dsn and migrates the outbox table.
func openDB(t testing.TB, dsn string) *gorm.DB {
	t.Helper()
	db := datatest.Open(t, dsn)
	if err := outbox.Migrate(context.Background(), db, nil); err != nil {
		t.Fatal(err)
	}
	return db
}

// counting is a backend that counts each job's sends and can fail once
// after storing a batch (a relay dying between enqueue and delete).
type counting struct {
	*memory.Queue
	mu        sync.Mutex
	sends     map[string]int
	failAfter bool
}

func newCounting(t testing.TB) *counting {
	b, err := memory.New(memory.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return &counting{Queue: b, sends: map[string]int{}}
}

func (c *counting) Enqueue(ctx context.Context, msgs []port.Message) ([]port.Enqueued, error) {
	res, err := c.Queue.Enqueue(ctx, msgs)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		c.sends[m.ID]++
	}
	if err == nil && c.failAfter {
		c.failAfter = false
		return nil, errors.New("relay died after the enqueue")
	}
	return res, err
}

func newClient(t testing.TB, b port.Queue) *queue.Client {
	cfg := queue.DefaultConfig()
	cfg.Outbox.Enabled = true
	c, err := queue.New(queue.Params{Backend: b, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func count(t testing.TB, db *gorm.DB) int64 {
	var n int64
	if err := db.Table(outbox.Table).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func waitState(t testing.TB, c *queue.Client, id string, want queue.State) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := c.Status(context.Background(), id)
		if err == nil && st.State == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: %v %v; want %s", id, st.State, err, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Commit: the relay (started, woken by NOTIFY on Postgres or its poll)
// hands the job to the backend and a worker runs it; rollback: no row,
// no job.
func TestCommitAndRollback(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		b := newCounting(t)
		c := newClient(t, b)
		ran := make(chan string, 4)
		queue.Handle(c.Worker(), "order.placed", func(_ context.Context, j queue.Job[int]) error {
			ran <- j.ID
			return nil
		})
		if err := c.Worker().Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Worker().Stop(context.Background()) })
		relay, err := outbox.NewRelay(db, b, outbox.Config{Poll: 50 * time.Millisecond, Listen: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := relay.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = relay.Stop(context.Background()) })

		var rolledBack string
		err = db.Transaction(func(tx *gorm.DB) error {
			rolledBack, err = c.EnqueueTx(tx, "order.placed", 1)
			if err != nil {
				return err
			}
			return errors.New("the order failed")
		})
		if err == nil || rolledBack == "" {
			t.Fatalf("rollback: %q %v", rolledBack, err)
		}
		var committed string
		if err := db.Transaction(func(tx *gorm.DB) (err error) {
			committed, err = c.EnqueueTx(tx, "order.placed", 2)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		select {
		case id := <-ran:
			if id != committed {
				t.Fatalf("ran %s; want %s", id, committed)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the committed job did not run")
		}
		waitState(t, c, committed, queue.Succeeded)
		if _, err := c.Status(context.Background(), rolledBack); !errors.Is(err, queue.ErrNotFound) {
			t.Fatalf("rolled back job: %v; want not found", err)
		}
		for deadline := time.Now().Add(5 * time.Second); count(t, db) != 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d rows left in the outbox", count(t, db))
			}
		}
	})
}

// Committed with no relay running (the process died after the commit):
// the rows wait; a relay started later (the restart) moves them. A relay
// that died after the enqueue but before its delete leaves the rows,
// which the next one re-sends as duplicates: one job each.
func TestCrashBetweenCommitAndRelay(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		b := newCounting(t)
		c := newClient(t, b)
		var ids []string
		if err := db.Transaction(func(tx *gorm.DB) error {
			for i := range 3 {
				id, err := c.EnqueueTx(tx, "k", i)
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db); n != 3 {
			t.Fatalf("%d rows; want 3 waiting for a relay", n)
		}
		b.failAfter = true
		first, _ := outbox.NewRelay(db, b, outbox.Config{}, nil)
		if _, err := first.RelayOnce(context.Background()); err == nil {
			t.Fatal("the dying relay reported success")
		}
		if n := count(t, db); n != 3 {
			t.Fatalf("%d rows after the dead relay; want 3", n)
		}
		restarted, _ := outbox.NewRelay(db, b, outbox.Config{}, nil)
		if n, err := restarted.RelayOnce(context.Background()); err != nil || n != 3 {
			t.Fatalf("restarted relay moved %d, %v", n, err)
		}
		for _, id := range ids {
			st, err := c.Status(context.Background(), id)
			if err != nil || st.State != queue.Pending || b.sends[id] != 2 {
				t.Fatalf("job %s: %v %v, sent %d times; want pending, sent twice", id, st.State, err, b.sends[id])
			}
		}
		if st, _ := b.Stats(context.Background(), queue.DefaultQueue); st.Ready != 3 {
			t.Fatalf("%d jobs ready; want 3", st.Ready)
		}
		if n := count(t, db); n != 0 {
			t.Fatalf("%d rows left", n)
		}
	})
}

// Three relays (three instances: pools of their own) drain one outbox
// of 1,500 rows at once: each row is enqueued once, by one of them.
func TestConcurrentRelays(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		b := newCounting(t)
		c := newClient(t, b)
		const rows = 1500
		for batch := range rows / 100 {
			if err := db.Transaction(func(tx *gorm.DB) error {
				for i := range 100 {
					if _, err := c.EnqueueTx(tx, "k", batch*100+i); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		moved, retries := make([]int, 3), make([]int, 3)
		errs := make([]error, 3)
		for i := range 3 {
			r, err := outbox.NewRelay(datatest.Open(t, dsn), b, outbox.Config{Batch: 50}, nil)
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n, err := r.RelayOnce(context.Background())
					if outbox.IsRetryable(err) {
						retries[i]++
						continue
					}
					if err != nil {
						errs[i] = err
						return
					}
					if n == 0 {
						return
					}
					moved[i] += n
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db); n != 0 {
			t.Fatalf("%d rows left", n)
		}
		if len(b.sends) != rows {
			t.Fatalf("%d jobs sent; want %d", len(b.sends), rows)
		}
		for id, n := range b.sends {
			if n != 1 {
				t.Fatalf("job %s sent %d times", id, n)
			}
		}
		if st, _ := b.Stats(context.Background(), queue.DefaultQueue); st.Ready != rows {
			t.Fatalf("%d jobs; want %d", st.Ready, rows)
		}
		t.Logf("moved per relay: %v, retried deadlocks: %v", moved, retries)
	})
}

func TestEnqueueTxNeedsTheOutbox(t *testing.T) {
	t.Parallel()
	b, _ := memory.New(memory.Config{})
	c, _ := queue.New(queue.Params{Backend: b})
	_, err := c.EnqueueTx(&gorm.DB{}, "k", 1)
	if err == nil || !strings.Contains(err.Error(), "APP_QUEUE__OUTBOX__ENABLED") {
		t.Fatalf("error %v; want one naming APP_QUEUE__OUTBOX__ENABLED", err)
	}
}
