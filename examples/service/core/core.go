// Package core is what the tracker's three binaries share: its config
// section, apex's settings it needs (outbox on, job events pushed, the
// project rooms, the snapshot schedule), the adapters behind the
// domain's and the use cases' ports, the job handlers, and the check
// that the database schema is current. cmd/api adds the HTTP handlers,
// cmd/worker the admin listener; cmd/migrate applies the migrations.
package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"go.uber.org/fx"
	"go.uber.org/zap"

	apexapp "github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/cache"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/examples/service/app"
	"github.com/apexgo/apex/examples/service/domain"
	"github.com/apexgo/apex/examples/service/gormrepo"
	"github.com/apexgo/apex/examples/service/memmail"
	"github.com/apexgo/apex/examples/service/migrations"
	"github.com/apexgo/apex/examples/service/smtpmail"
	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/realtime"
)

// RoomNamespace is the realtime namespace of project rooms
// (app.RoomOf): private, with presence; the Authorizer lets in the users
// of the project's tenant.
const RoomNamespace = "project"

// SnapshotSchedule is the name of the usage snapshot schedule.
const SnapshotSchedule = "snapshot"

// Module is the shared core. It needs apex's config, data, cache, auth,
// queue and realtime modules in the app. Its decorations of apex's
// sections are at the root of the app, so that apex's modules see them
// (a decoration inside an fx.Module reaches only that module).
var Module = fx.Options(
	fx.Decorate(serviceDefaults, dataDefaults, queueDefaults, realtimeDefaults),
	fx.Module("tracker", apexapp.ProvideSection("tracker", DefaultConfig), provides),
)

var provides = fx.Options(
	fx.Provide(
		fx.Annotate(gormrepo.New, fx.As(new(domain.Repository))),
		newMailer,
		newService,
		authorizer,
	),
	fx.Invoke(checkSchema, registerJobs),
)

// ServiceName is the service's name unless service.name says otherwise.
// Every binary must have the same: apex derives its Redis key prefixes
// (queue, cache, auth, realtime) and the token issuer from it, and its
// own default would be the binary's name (api, worker).
const ServiceName = "tracker"

func serviceDefaults(c apexapp.ServiceConfig) apexapp.ServiceConfig {
	if c.Name == "" {
		c.Name = ServiceName
	}
	return c
}

// dataDefaults keeps the SQLite fallback in a file of the tracker's own.
func dataDefaults(c data.Config) data.Config {
	if c.SQLitePath == data.DefaultSQLitePath {
		c.SQLitePath = DefaultSQLitePath
	}
	return c
}

// queueDefaults turns the outbox on (CreateProject needs it) and adds
// the snapshot schedule unless config declares one of that name.
func queueDefaults(q queue.Config, t Config) queue.Config {
	q.Outbox.Enabled = true
	if _, ok := q.Schedules[SnapshotSchedule]; !ok {
		q.Schedules = maps.Clone(q.Schedules)
		if q.Schedules == nil {
			q.Schedules = map[string]queue.ScheduleConfig{}
		}
		// Every missed tick fires (at most 10): an instance that wakes late
		// under load leaves no gap.
		q.Schedules[SnapshotSchedule] = queue.ScheduleConfig{Spec: "@every " + t.SnapshotEvery.String(), Kind: app.KindSnapshot, Missed: "all"}
	}
	return q
}

// realtimeDefaults pushes job events to the user who enqueued the job
// and declares the project rooms, unless config declares them.
func realtimeDefaults(c realtime.Config) realtime.Config {
	c.JobEvents.Enabled = true
	if _, ok := c.Namespaces[RoomNamespace]; !ok {
		c.Namespaces = maps.Clone(c.Namespaces)
		if c.Namespaces == nil {
			c.Namespaces = map[string]realtime.NamespaceConfig{}
		}
		c.Namespaces[RoomNamespace] = realtime.NamespaceConfig{Presence: true}
	}
	return c
}

type mailerIn struct {
	fx.In
	Config Config
	Log    *zap.Logger
}

// newMailer is SMTP when tracker.mail says so, else the in-memory
// outbox, which logs each message.
func newMailer(in mailerIn) (domain.Mailer, error) {
	m := in.Config.Mail
	useSMTP := m.Driver == "smtp" || (m.Driver == "auto" && m.Host != "")
	if !useSMTP {
		in.Log.Info("tracker: mail is kept in memory and logged (set tracker.mail.host to send it)")
		return loggingMailer{next: memmail.New(0), log: in.Log}, nil
	}
	if m.Host == "" {
		return nil, fmt.Errorf("tracker.mail.driver is smtp but tracker.mail.host (%s) is empty", apexapp.EnvName("tracker.mail.host"))
	}
	s, err := smtpmail.New(smtpmail.Config{Host: m.Host, Port: m.Port, Username: m.Username, Password: m.Password.Reveal(),
		From: m.From, TLS: m.TLS, Timeout: m.Timeout})
	if err != nil {
		return nil, fmt.Errorf("tracker.mail: %w", err)
	}
	return s, nil
}

type loggingMailer struct {
	next domain.Mailer
	log  *zap.Logger
}

func (l loggingMailer) Send(ctx context.Context, e domain.Email) error {
	if err := l.next.Send(ctx, e); err != nil {
		return err
	}
	l.log.Info("tracker: mail (in memory)", zap.String("to", e.To), zap.String("subject", e.Subject))
	return nil
}

type serviceIn struct {
	fx.In
	Config    Config
	Repo      domain.Repository
	Mailer    domain.Mailer
	Passwords *auth.Passwords
	Queue     *queue.Client
	Registry  data.Registry
	Cache     cache.Cache
	Hub       realtime.Hub
}

func newService(in serviceIn) *app.Service {
	return app.New(app.Params{
		Repo: in.Repo, Mailer: in.Mailer, Hasher: in.Passwords,
		Jobs:     jobs{q: in.Queue, reg: in.Registry},
		Tx:       tx{reg: in.Registry},
		Cache:    cache.NewTyped[[]domain.Project](in.Cache, cache.JSON{}),
		Rooms:    rooms{hub: in.Hub},
		CacheTTL: in.Config.CacheTTL,
	})
}

// jobs is app.Jobs on apex's queue: EnqueueInTx writes the job into the
// outbox table in the transaction ctx carries.
type jobs struct {
	q   *queue.Client
	reg data.Registry
}

func (j jobs) Enqueue(ctx context.Context, kind string, payload any) (string, error) {
	return j.q.Enqueue(ctx, kind, payload)
}

func (j jobs) EnqueueInTx(ctx context.Context, kind string, payload any) (string, error) {
	db, err := j.reg.DB(ctx)
	if err != nil {
		return "", err
	}
	return j.q.EnqueueTx(db, kind, payload)
}

// tx is app.Tx on data.InTx.
type tx struct{ reg data.Registry }

func (t tx) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return data.InTx(ctx, t.reg, fn)
}

// rooms is app.Rooms on the realtime hub.
type rooms struct{ hub realtime.Hub }

func (r rooms) Publish(ctx context.Context, channel string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = r.hub.Publish(ctx, channel, b)
	return err
}

// authorizer lets a user into the rooms of its tenant's projects
// (subscribe only: the server publishes) and leaves every other
// namespace to realtime's default policy.
func authorizer(repo domain.Repository) realtime.Authorizer {
	def := realtime.DefaultAuthorizer("user")
	return func(ctx context.Context, a realtime.Access) error {
		if a.Namespace != RoomNamespace {
			return def(ctx, a)
		}
		tenant, projectID, ok := app.ParseRoom(a.Channel)
		if !ok || a.Action != realtime.Subscribe || a.Subject == "" {
			return realtime.ErrForbidden
		}
		u, err := repo.UserByID(ctx, a.Subject)
		if errors.Is(err, domain.ErrNotFound) || (err == nil && u.Tenant != tenant) {
			return realtime.ErrForbidden
		}
		if err != nil {
			return err
		}
		if _, err := repo.Project(ctx, tenant, projectID); errors.Is(err, domain.ErrNotFound) {
			return realtime.ErrForbidden
		} else if err != nil {
			return err
		}
		return nil
	}
}

// checkSchema applies the migrations at start on SQLite (the one-process
// run: nothing else would) and, on a server database, refuses to start
// while a migration is pending: cmd/migrate applies them, once, before
// the new version's processes start.
func checkSchema(lc fx.Lifecycle, reg data.Registry, log *zap.Logger) {
	lc.Append(fx.StartHook(func(ctx context.Context) error {
		db := reg.Primary()
		m, err := data.NewMigrator(db, migrations.FS(), data.MigratorParams{Table: migrations.Table, Log: log})
		if err != nil {
			return fmt.Errorf("tracker: migrations: %w", err)
		}
		defer m.Close()
		if db.Name() == "sqlite" {
			if _, err := m.Up(ctx); err != nil {
				return fmt.Errorf("tracker: migrations: %w", err)
			}
			return nil
		}
		st, err := m.Status(ctx)
		if err != nil {
			return fmt.Errorf("tracker: migrations: %w", err)
		}
		var pending []string
		for _, s := range st {
			if !s.Applied {
				pending = append(pending, s.Name)
			}
		}
		if len(pending) > 0 {
			return fmt.Errorf("tracker: the database schema is behind (%s not applied): run the migrate command (cmd/migrate up) first", strings.Join(pending, ", "))
		}
		return nil
	}))
}
