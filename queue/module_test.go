package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/internal/testservice"
	"github.com/apexgo/apex/observe"
	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/queuetest"
)

type email struct {
	To string `json:"to"`
}

// modules is the app under test: HTTP and queue, a subject from the
// X-User header standing in for auth.
func modules(extra ...fx.Option) []fx.Option {
	return append([]fx.Option{apex.Without(apex.Data, apex.Auth, apex.Cache),
		fx.Provide(func() httpx.SubjectFunc {
			return func(c echo.Context) string { return c.Request().Header.Get("X-User") }
		}),
	}, extra...)
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		invoke func(*queue.Client)
		config map[string]any
		want   string
	}{
		"kind twice": {invoke: func(c *queue.Client) {
			queue.Handle(c.Worker(), "a", func(context.Context, queue.Job[int]) error { return nil })
			queue.Handle(c.Worker(), "a", func(context.Context, queue.Job[int]) error { return nil })
		}, want: `kind "a" is registered twice`},
		"unknown queue": {invoke: func(c *queue.Client) {
			queue.Handle(c.Worker(), "a", func(context.Context, queue.Job[int]) error { return nil }, queue.On("mail"))
		}, want: "APP_QUEUE__QUEUES__MAIL__CONCURRENCY"},
		"redis without redis": {config: map[string]any{"queue.driver": "redis"}, want: "queue.driver is redis"},
		"bad queue name":      {config: map[string]any{"queue.queues": map[string]any{"Bad Name": map[string]any{"concurrency": 1}}}, want: "queue.queues.Bad Name"},
		"admin without guard": {config: map[string]any{"queue.http.admin_role": "admin"}, want: "queue.RoleMiddleware"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts := []fx.Option{}
			if tc.invoke != nil {
				opts = append(opts, fx.Invoke(tc.invoke))
			}
			_, err := apptest.Start(t, modules(opts...), apptest.Config(tc.config))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("start error %v; want one containing %q", err, tc.want)
			}
		})
	}
}

// GET /jobs/{id}: the enqueuing subject sees its job; another subject and
// an unknown ID get the same 404 problem.
func TestStatusRoute(t *testing.T) {
	t.Parallel()
	var c *queue.Client
	done := make(chan struct{})
	a := apptest.New(t, modules(
		fx.Invoke(func(cl *queue.Client) {
			c = cl
			queue.Handle(cl.Worker(), "email.send", func(ctx context.Context, j queue.Job[email]) error {
				defer close(done)
				return j.SetResult(map[string]string{"sent_to": j.Payload.To})
			})
		}),
		fx.Provide(httpx.AsRoute(func(cl *queue.Client) httpx.Route {
			return httpx.Route{Method: http.MethodPost, Path: "/send", Handler: func(ec echo.Context) error {
				id, err := cl.Enqueue(ec.Request().Context(), "email.send", email{To: "a@example.com"})
				if err != nil {
					return err
				}
				return ec.JSON(http.StatusAccepted, map[string]string{"id": id})
			}}
		})),
	))
	_ = c
	r := a.Do(t, http.MethodPost, "/send", "", "X-User", "alice")
	if r.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /send: %d %s", r.StatusCode, r.Body)
	}
	var out struct{ ID string }
	r.JSON(t, &out)
	<-done
	deadline := time.Now().Add(10 * time.Second)
	var view queue.StatusView
	for {
		r = a.Do(t, http.MethodGet, "/jobs/"+out.ID, "", "X-User", "alice")
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET own job: %d %s", r.StatusCode, r.Body)
		}
		r.JSON(t, &view)
		if view.State == queue.Succeeded || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if view.State != queue.Succeeded || string(view.Result) != `{"sent_to":"a@example.com"}` || view.Kind != "email.send" {
		t.Fatalf("view %+v (result %s)", view, view.Result)
	}
	for _, tc := range []struct{ id, user string }{{out.ID, "mallory"}, {out.ID, ""}, {"default.nosuchjob", "alice"}, {"nonsense", "alice"}} {
		r = a.Do(t, http.MethodGet, "/jobs/"+tc.id, "", "X-User", tc.user)
		var p struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(r.Body, &p)
		if r.StatusCode != http.StatusNotFound || p.Code != httpx.CodeNotFound || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
			t.Fatalf("GET %s as %q: %d %s %s", tc.id, tc.user, r.StatusCode, r.Header.Get("Content-Type"), r.Body)
		}
	}
}

// With Redis configured, the module uses Redis Streams, reports
// readiness, and events reach the app's JobEventSinks.
func TestRedisModule(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	s := &recorder{ch: make(chan app.JobEvent, 16)}
	var c *queue.Client
	a := apptest.New(t, modules(
		fx.Provide(app.AsJobEventSink(func() *recorder { return s })),
		fx.Invoke(func(cl *queue.Client, b queue.Queue) {
			c = cl
			if _, ok := b.(interface{ Consumer() string }); !ok {
				t.Errorf("backend %T is not Redis Streams", b)
			}
			queue.Handle(cl.Worker(), "ping", func(context.Context, queue.Job[int]) error { return nil })
		})),
		apptest.Config(map[string]any{"redis.addr": addr, "queue.prefix": queuetest.Prefix()}))
	id, err := c.Enqueue(t.Context(), "ping", 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		select {
		case e := <-s.ch:
			if e.ID == id {
				got = append(got, e.Status)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("events %v", got)
		}
	}
	if got[0] != "running" || got[1] != "succeeded" {
		t.Fatalf("events %v", got)
	}
	if r := a.Do(t, http.MethodGet, "/readyz", ""); r.StatusCode != http.StatusOK || !strings.Contains(string(r.Body), "queue") {
		t.Fatalf("/readyz: %d %s", r.StatusCode, r.Body)
	}
	r := a.Do(t, http.MethodGet, "/metrics", "")
	for _, m := range []string{`apex_queue_jobs_total{event="succeeded",kind="ping"} 1`, "apex_queue_depth{", "apex_queue_run_seconds_bucket", "apex_queue_worker_busy_ratio"} {
		if !strings.Contains(string(r.Body), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

type recorder struct{ ch chan app.JobEvent }

func (r *recorder) JobEvent(_ context.Context, e app.JobEvent) {
	select {
	case r.ch <- e:
	default:
	}
}

// The dead-letter admin routes answer only callers with
// queue.http.admin_role, through the container's RoleMiddleware.
func TestAdminRoutes(t *testing.T) {
	t.Parallel()
	var c *queue.Client
	role := func(r string) echo.MiddlewareFunc {
		return func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(ec echo.Context) error {
				if ec.Request().Header.Get("X-Role") != r {
					return httpx.NewProblem(http.StatusForbidden, "not an admin")
				}
				return next(ec)
			}
		}
	}
	a := apptest.New(t, modules(
		fx.Provide(func() queue.RoleMiddleware { return role }),
		fx.Invoke(func(cl *queue.Client) {
			c = cl
			queue.Handle(cl.Worker(), "bad", func(context.Context, queue.Job[int]) error { return queue.Permanent(errors.New("no")) })
		})), apptest.Config(map[string]any{"queue.http.admin_role": "admin"}))
	id, err := c.Enqueue(t.Context(), "bad", 1)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if st, _ := c.Status(t.Context(), id); st.State == queue.Failed {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := a.Do(t, http.MethodGet, "/jobs/admin/default/dead", ""); r.StatusCode != http.StatusForbidden {
		t.Fatalf("without the role: %d %s", r.StatusCode, r.Body)
	}
	r := a.Do(t, http.MethodGet, "/jobs/admin/default/dead", "", "X-Role", "admin")
	var list []queue.StatusView
	r.JSON(t, &list)
	if r.StatusCode != http.StatusOK || len(list) != 1 || list[0].ID != id || list[0].LastError != "permanent: no" {
		t.Fatalf("list: %d %s", r.StatusCode, r.Body)
	}
	if r := a.Do(t, http.MethodPost, "/jobs/admin/default/dead/replay", `{"ids":["`+id+`"]}`, "X-Role", "admin", "Content-Type", "application/json"); r.StatusCode != http.StatusOK || !strings.Contains(string(r.Body), `"replayed":1`) {
		t.Fatalf("replay: %d %s", r.StatusCode, r.Body)
	}
	for {
		if st, _ := c.Status(t.Context(), id); st.State == queue.Failed {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := a.Do(t, http.MethodDelete, "/jobs/admin/default/dead", "", "X-Role", "admin"); r.StatusCode != http.StatusOK || !strings.Contains(string(r.Body), `"purged":1`) {
		t.Fatalf("purge: %d %s", r.StatusCode, r.Body)
	}
}

// A job's attempts are spans linked to the span that enqueued it, and a
// job enqueued by a handler inherits the request ID, tenant and subject.
func TestTraceAndContextFollowTheJob(t *testing.T) {
	t.Parallel()
	var c *queue.Client
	child := make(chan queue.Job[int], 1)
	a := apptest.New(t, modules(fx.Invoke(func(cl *queue.Client) {
		c = cl
		queue.Handle(cl.Worker(), "parent", func(ctx context.Context, j queue.Job[int]) error {
			_, err := cl.Enqueue(ctx, "child", 2)
			return err
		})
		queue.Handle(cl.Worker(), "child", func(ctx context.Context, j queue.Job[int]) error {
			child <- j
			return nil
		})
	})))
	ctx := observe.ContextWithRequestID(app.WithTenant(queue.WithSubject(t.Context(), "u1"), "t1"), "req-7")
	if _, err := c.Enqueue(ctx, "parent", 1); err != nil {
		t.Fatal(err)
	}
	var j queue.Job[int]
	select {
	case j = <-child:
	case <-time.After(10 * time.Second):
		t.Fatal("child job did not run")
	}
	if j.RequestID != "req-7" || j.Tenant != "t1" || j.Subject != "u1" {
		t.Fatalf("child job context %+v", j)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var enqueue, process map[string]trace.SpanContext = map[string]trace.SpanContext{}, map[string]trace.SpanContext{}
		linked := false
		spans := a.Spans()
		for _, s := range spans {
			switch s.Name {
			case "queue.enqueue":
				enqueue[s.SpanContext.SpanID().String()] = s.SpanContext
			case "queue.process child":
				for _, l := range s.Links {
					process[l.SpanContext.SpanID().String()] = l.SpanContext
				}
			}
		}
		for id := range process {
			if _, ok := enqueue[id]; ok {
				linked = true
			}
		}
		if linked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no queue.process span linked to a queue.enqueue span among %d spans", len(spans))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
