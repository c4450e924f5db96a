package queue_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"gorm.io/gorm"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/internal/testservice"
	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/outbox"
	"github.com/apexgo/apex/queue/queuetest"
)

// The app with data and queue.outbox.enabled: the outbox table is
// migrated at start, a job written with EnqueueTx inside data.InTx runs
// once the transaction commits, and one whose transaction fails never
// does.
func TestOutboxInApp(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": datatest.SQLiteDSN, "postgres": datatest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var c *queue.Client
			var reg data.Registry
			ran := make(chan string, 4)
			apptest.New(t, []fx.Option{apex.Without(apex.Auth, apex.Cache),
				fx.Invoke(func(cl *queue.Client, r data.Registry) {
					c, reg = cl, r
					queue.Handle(cl.Worker(), "invoice.send", func(_ context.Context, j queue.Job[string]) error {
						ran <- j.Payload
						return nil
					})
				}),
			}, apptest.Config(map[string]any{"data.dsn": dsn(t), "queue.outbox.enabled": true}))
			ctx := context.Background()
			enqueue := func(payload string, fail error) error {
				return data.InTx(ctx, reg, func(ctx context.Context) error {
					tx, err := reg.DB(ctx)
					if err != nil {
						return err
					}
					if _, err := c.EnqueueTx(tx, "invoice.send", payload); err != nil {
						return err
					}
					return fail
				})
			}
			boom := errors.New("boom")
			if err := enqueue("rolled back", boom); !errors.Is(err, boom) {
				t.Fatal(err)
			}
			if err := enqueue("committed", nil); err != nil {
				t.Fatal(err)
			}
			select {
			case p := <-ran:
				if p != "committed" {
					t.Fatalf("ran %q", p)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the committed job did not run")
			}
			select {
			case p := <-ran:
				t.Fatalf("ran %q too", p)
			case <-time.After(1500 * time.Millisecond): // more than a poll
			}
		})
	}
}

func TestOutboxNeedsData(t *testing.T) {
	t.Parallel()
	_, err := apptest.Start(t, modules(), apptest.Config(map[string]any{"queue.outbox.enabled": true}))
	if err == nil || !strings.Contains(err.Error(), "APP_QUEUE__OUTBOX__ENABLED") {
		t.Fatalf("start error %v; want one naming APP_QUEUE__OUTBOX__ENABLED", err)
	}
}

// A job of EnqueueTx whose transaction committed is Pending (Scheduled,
// delayed) to Status before any relay has moved it, with its subject for
// the ownership check; once relayed, the backend's record answers; a
// rolled-back job is not found; one canceled in the outbox stays canceled
// when the relay sends it.
func TestOutboxStatusBeforeRelay(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": datatest.SQLiteDSN, "postgres": datatest.PostgresDSN, "mariadb": datatest.MySQLDSN, "postgres+redis": datatest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := map[string]any{"data.dsn": dsn(t), "queue.outbox.enabled": true, "queue.outbox.relay": false}
			if strings.HasSuffix(name, "+redis") {
				cfg["redis.addr"], cfg["queue.prefix"] = testservice.Need(t, testservice.Redis), queuetest.Prefix()
			}
			var c *queue.Client
			var reg data.Registry
			var backend queue.Queue
			var db *gorm.DB
			apptest.New(t, []fx.Option{apex.Without(apex.Auth, apex.Cache), fx.Populate(&c, &reg, &backend, &db)}, apptest.Config(cfg))
			ctx := context.Background()
			enqueue := func(fail error, opts ...queue.Option) (id string, err error) {
				err = data.InTx(ctx, reg, func(ctx context.Context) error {
					tx, err := reg.DB(ctx)
					if err != nil {
						return err
					}
					if id, err = c.EnqueueTx(tx, "invoice.send", "x", opts...); err != nil {
						return err
					}
					return fail
				})
				return id, err
			}
			now, hour := id(t)(enqueue(nil, queue.Subject("ada"))), id(t)(enqueue(nil, queue.Delay(time.Hour)))
			rolledBack, _ := enqueue(errors.New("boom"))
			st, err := c.Status(ctx, now)
			if err != nil || st.State != queue.Pending || st.Subject != "ada" || st.Kind != "invoice.send" || st.Attempts != 0 {
				t.Fatalf("Status of a committed job waiting in the outbox: %+v, %v; want pending, subject ada", st, err)
			}
			if st, err := c.Status(ctx, hour); err != nil || st.State != queue.Scheduled || st.RunAt.IsZero() {
				t.Fatalf("Status of a delayed job waiting in the outbox: %+v, %v; want scheduled", st, err)
			}
			if _, err := c.Status(ctx, rolledBack); !errors.Is(err, queue.ErrNotFound) {
				t.Fatalf("Status of a rolled-back job: %v, want ErrNotFound", err)
			}
			canceled := id(t)(enqueue(nil))
			if st, err := c.Cancel(ctx, canceled); err != nil || st.State != queue.Canceled {
				t.Fatalf("Cancel of a job waiting in the outbox: %+v, %v; want canceled", st, err)
			}
			relay, err := outbox.NewRelay(db, backend, outbox.Config{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := relay.RelayOnce(ctx); err != nil || n != 3 {
				t.Fatalf("RelayOnce: %d, %v; want 3 rows", n, err)
			}
			if st, err := c.Status(ctx, canceled); err != nil || st.State != queue.Canceled {
				t.Fatalf("a job canceled in the outbox, once relayed: %+v, %v; want still canceled", st, err)
			}
			if _, ok, err := outbox.Waiting(ctx, db, now); ok || err != nil {
				t.Fatalf("the job still waits in the outbox after the relay (%v)", err)
			}
			if st, err := c.Status(ctx, now); err != nil || st.State != queue.Pending || st.Subject != "ada" {
				t.Fatalf("Status once relayed: %+v, %v", st, err)
			}
		})
	}
}

// id fails t on an error of EnqueueTx.
func id(t *testing.T) func(string, error) string {
	return func(id string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
}
