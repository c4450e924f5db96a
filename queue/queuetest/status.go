package queuetest

import (
	"context"
	"testing"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/observe"
	"github.com/apexgo/apex/queue"
)

// TestStatus: the record goes pending → running (with progress) →
// succeeded, and carries the enqueuer's subject, tenant and request ID.
func TestStatus(t *testing.T, _ Features, newBackend NewBackend) {
	e := setup(t, newBackend, 1)
	step := make(chan struct{})
	seen := make(chan queue.Job[Payload], 1)
	queue.Handle(e.c.Worker(), "steps", func(ctx context.Context, j queue.Job[Payload]) error {
		if err := j.Progress(ctx, 40, "halfway there"); err != nil {
			return err
		}
		tenant, _ := app.Tenant(ctx)
		if tenant != j.Tenant || observe.RequestID(ctx) != j.RequestID {
			return queue.Permanent(context.Canceled)
		}
		seen <- j
		<-step
		return nil
	}, queue.On(e.queue))
	ctx := observe.ContextWithRequestID(app.WithTenant(t.Context(), "acme"), "req-1")
	ctx = queue.WithSubject(ctx, "user-9")
	id, err := e.c.Enqueue(ctx, "steps", Payload{}, queue.On(e.queue))
	must(t, err)
	st, err := e.c.Status(t.Context(), id)
	must(t, err)
	if st.State != queue.Pending || st.Subject != "user-9" || st.Tenant != "acme" || st.Kind != "steps" || st.Queue != e.queue {
		t.Fatalf("record after enqueue: %+v", st)
	}
	e.start()
	j := <-seen
	if j.Subject != "user-9" || j.Tenant != "acme" || j.RequestID != "req-1" {
		t.Fatalf("job context: %+v", j)
	}
	st = e.wait(id, 5*time.Second, func(st queue.Status) bool { return st.State == queue.Running && st.Progress == 40 })
	if st.Message != "halfway there" || st.Attempts != 1 {
		t.Fatalf("running record: %+v", st)
	}
	close(step)
	e.waitState(id, queue.Succeeded)
}
