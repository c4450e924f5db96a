package queue

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/queue/redisstream"
)

// cronModule provides the TickStore (Redis with the Redis Streams
// backend, process memory otherwise) and the *Scheduler of the
// schedules from config and AsSchedule, started with the app when
// queue.cron.enabled.
var cronModule = fx.Options(
	fx.Provide(newTickStore, newScheduler),
	fx.Invoke(registerScheduler),
)

type tickStoreIn struct {
	fx.In
	Config  Config
	Info    app.Info
	Backend Queue
	Client  rueidis.Client `optional:"true"`
}

func newTickStore(in tickStoreIn) TickStore {
	if _, ok := in.Backend.(*redisstream.Queue); ok && in.Client != nil {
		return RedisTicks(in.Client, cmp.Or(in.Config.Prefix, in.Info.Name+":q:"))
	}
	return MemoryTicks()
}

type schedulerIn struct {
	fx.In
	Config    Config
	Client    *Client
	Ticks     TickStore
	Log       *zap.Logger
	Schedules []Schedule `group:"apex.queue.schedules"`
}

func newScheduler(in schedulerIn) (*Scheduler, error) {
	fromConfig, err := configSchedules(in.Config.Schedules)
	if err != nil {
		return nil, err
	}
	return NewScheduler(SchedulerParams{Client: in.Client, Schedules: append(fromConfig, in.Schedules...),
		Ticks: in.Ticks, Log: in.Log, Grace: in.Config.Cron.Grace})
}

// configSchedules turns queue.schedules into schedules, reporting a bad
// time zone or payload by key and env var.
func configSchedules(m map[string]ScheduleConfig) ([]Schedule, error) {
	var out []Schedule
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(m)) {
		c, key := m[name], "queue.schedules."+name
		s := Schedule{Name: name, Spec: c.Spec, Kind: c.Kind, Missed: Missed(c.Missed), MissedMax: c.MissedMax,
			Overlap: Overlap(c.Overlap), key: key}
		if c.TZ != "" {
			loc, err := time.LoadLocation(c.TZ)
			if err != nil {
				errs = append(errs, fmt.Errorf("queue: %s.tz (%s): unknown time zone %q", key, app.EnvName(key+".tz"), c.TZ))
				continue
			}
			s.Location = loc
		}
		if c.Payload != "" {
			if !json.Valid([]byte(c.Payload)) {
				errs = append(errs, fmt.Errorf("queue: %s.payload (%s): not valid JSON", key, app.EnvName(key+".payload")))
				continue
			}
			s.Payload = json.RawMessage(c.Payload)
		}
		if c.Queue != "" {
			s.Options = []Option{On(c.Queue)}
		}
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}

func registerScheduler(lc fx.Lifecycle, cfg Config, s *Scheduler, log *zap.Logger) {
	if !cfg.Cron.Enabled || len(s.entries) == 0 {
		return
	}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			if err := s.Start(); err != nil {
				return err
			}
			log.Info("queue: cron started", zap.Strings("schedules", s.Names()))
			return nil
		},
		OnStop: s.Stop,
	})
}
