package queue_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/queue"
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
