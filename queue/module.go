package queue

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/internal/driver"
	"github.com/apexgo/apex/internal/redisconn"
	"github.com/apexgo/apex/queue/memory"
	"github.com/apexgo/apex/queue/port"
	"github.com/apexgo/apex/queue/redisstream"
)

// Module provides the "queue" section, the storage port [Queue] (Redis
// Streams on the process's rueidis client with driver auto or redis, the
// in-process backend with auto and no Redis, or memory), a [*Client] and
// its [*Worker]. Register handlers in an fx.Invoke with [Handle]; the
// worker starts with the app (unless queue.worker is false) and stops
// gracefully with it: a wrong registration is a start error. It adds a
// "queue" readiness check (when the backend can be unreachable), the
// queue's metrics, GET {queue.http.path}/:id and, with
// queue.http.admin_role, the dead-letter admin routes.
var Module = fx.Module("queue",
	app.ProvideSection("queue", DefaultConfig),
	fx.Provide(newBackend, newClient, func(c *Client) *Worker { return c.Worker() }),
	fx.Provide(fx.Private, newUnavailable),
	fx.Provide(httpx.AsHealthChecks(newChecks), httpx.AsGroup(newStatusGroup), httpx.AsGroup(newAdminGroup),
		httpx.AsContextValues(subjectValue)),
	fx.Invoke(registerLifecycle),
	cronModule,
	outboxModule,
)

type backendIn struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    Config
	Redis     redisconn.Config
	Info      app.Info
	Client    rueidis.Client `optional:"true"`
}

func newBackend(in backendIn) (Queue, error) {
	r, err := driver.UseRedis("queue.driver", in.Config.Driver, in.Client)
	if err != nil {
		return nil, err
	}
	var b Queue
	if r {
		prefix := in.Config.Prefix
		if prefix == "" {
			prefix = in.Info.Name + ":q:"
		}
		b, err = redisstream.New(in.Client, redisstream.Config{
			Prefix: prefix, Group: in.Config.Redis.Group, Heartbeat: in.Config.Redis.Heartbeat,
			ReclaimAfter: in.Config.Redis.ReclaimAfter, StatusTTL: in.Config.StatusTTL,
			DeadRetention: in.Config.DeadRetention, CommandTimeout: in.Redis.CommandTimeout,
		})
	} else {
		b, err = memory.New(memory.Config{MaxJobs: in.Config.Memory.MaxJobs, MaxDead: in.Config.Memory.MaxDead,
			StatusTTL: in.Config.StatusTTL, DeadRetention: in.Config.DeadRetention})
	}
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	if c, ok := b.(port.Closer); ok {
		in.Lifecycle.Append(fx.StopHook(c.Close))
	}
	return b, nil
}

type clientIn struct {
	fx.In
	Config     Config
	Backend    Queue
	Log        *zap.Logger
	Registerer prometheus.Registerer `optional:"true"`
	Tracer     trace.TracerProvider  `optional:"true"`
	Sinks      []app.JobEventSink    `group:"apex.job_event_sinks"`
	DB         *gorm.DB              `optional:"true"`
}

func newClient(in clientIn) (*Client, error) {
	m, err := NewMetrics(in.Registerer)
	if err != nil {
		return nil, err
	}
	if i, ok := in.Backend.(port.Inspector); ok && in.Registerer != nil {
		if err := in.Registerer.Register(newDepthCollector(i, slices.Sorted(maps.Keys(in.Config.Queues)))); err != nil {
			return nil, err
		}
	}
	sinks := slices.DeleteFunc(slices.Clone(in.Sinks), func(s app.JobEventSink) bool { return s == nil })
	p := Params{Backend: in.Backend, Config: in.Config, Log: in.Log, Tracer: in.Tracer, Sinks: sinks, Metrics: m}
	if in.Config.Outbox.Enabled {
		p.Outbox = in.DB
	}
	return New(p)
}

func registerLifecycle(lc fx.Lifecycle, cfg Config, c *Client, log *zap.Logger) {
	w := c.Worker()
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			if err := w.Err(); err != nil {
				return err
			}
			if !cfg.Worker || len(w.Kinds()) == 0 {
				return nil
			}
			if err := w.Start(); err != nil {
				return err
			}
			log.Info("queue: worker started", zap.Strings("kinds", w.Kinds()))
			return nil
		},
		OnStop: func(ctx context.Context) error {
			if err := w.Stop(ctx); err != nil {
				log.Warn("queue: stop budget ran out; unfinished jobs left for another worker", zap.Error(err))
			}
			return nil
		},
	})
}

func newUnavailable(log *zap.Logger) *httpx.Unavailable {
	return httpx.NewUnavailable(httpx.UnavailableParams{Log: log, Message: "queue: the job store is unavailable; answering 503",
		Detail: "the job store is unavailable; retry later"})
}

// newChecks is the readiness check of a backend that can be unreachable.
func newChecks(b Queue) []httpx.HealthCheck {
	p, ok := b.(port.Pinger)
	if !ok {
		return nil
	}
	return []httpx.HealthCheck{httpx.CheckFunc("queue", p.Ping)}
}

type routesIn struct {
	fx.In
	Config  Config
	Client  *Client
	Down    *httpx.Unavailable
	Subject httpx.SubjectFunc   `optional:"true"`
	Verify  httpx.TokenVerifier `optional:"true"`
	CanSee  CanSee              `optional:"true"`
	Role    RoleMiddleware      `optional:"true"`
}

func newStatusGroup(in routesIn) httpx.Group {
	if in.Config.HTTP.Path == "" {
		return httpx.Group{}
	}
	see := in.CanSee
	if see == nil {
		see = SameSubject(BearerSubject(in.Subject, in.Verify))
	}
	return httpx.Group{Prefix: in.Config.HTTP.Path, Routes: []httpx.Route{{
		Method: "GET", Path: "/:id", Handler: in.Client.StatusHandler(see, in.Down),
		Doc: httpx.Doc{
			Summary: "A job's status", Tags: []string{"jobs"}, OperationID: "getJobStatus",
			Description: "The status of a job enqueued under the caller's subject (its bearer token's); " +
				"an unknown job, or one the caller may not see, is a 404 problem.",
			Responses: map[int]any{http.StatusOK: StatusView{}, http.StatusNotFound: nil},
		},
	}}}
}

func newAdminGroup(in routesIn) (httpx.Group, error) {
	role := in.Config.HTTP.AdminRole
	if role == "" || in.Config.HTTP.Path == "" {
		return httpx.Group{}, nil
	}
	if in.Role == nil {
		return httpx.Group{}, errors.New("queue.http.admin_role is set, but nothing provides a queue.RoleMiddleware; " +
			"with auth: fx.Provide(func(g *auth.Guard) queue.RoleMiddleware { return g.RequireRole })")
	}
	return in.Client.AdminGroup(in.Config.HTTP.Path+"/admin", in.Down, in.Role(role))
}

// subjectValue makes every request's ctx carry its subject (found when a
// job is enqueued, after the route's auth ran) for Enqueue. It is an
// httpx.ContextValue rather than a middleware: the HTTP stack's own
// context answers it, which spares every request a context and a copy.
func subjectValue(in struct {
	fx.In
	Subject httpx.SubjectFunc `optional:"true"`
}) []httpx.ContextValue {
	if in.Subject == nil {
		return nil
	}
	subject := in.Subject
	return []httpx.ContextValue{{Key: subjectKey{}, Value: func(c echo.Context) any {
		return func() string { return subject(c) }
	}}}
}
