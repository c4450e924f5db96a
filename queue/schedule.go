package queue

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/adhocore/gronx"
	"go.uber.org/fx"

	"github.com/apexgo/apex/app"
)

// Missed is what a schedule does with ticks that passed while no
// instance was running (or while the scheduler could not reach the
// store), found from the last tick recorded in the backend.
type Missed string

// The missed-tick policies.
const (
	// MissedSkip fires only the current tick, and only while it is at
	// most queue.cron.grace old: missed ticks are dropped. The default.
	MissedSkip Missed = "skip"
	// MissedLast fires the most recent missed tick once, however old.
	MissedLast Missed = "last"
	// MissedAll fires every missed tick, oldest first, up to the
	// schedule's MissedMax most recent ones.
	MissedAll Missed = "all"
)

// Overlap is what a schedule does when a tick comes while the job of its
// previous tick has not finished.
type Overlap string

// The overlap policies.
const (
	// OverlapAllow enqueues every tick. The default.
	OverlapAllow Overlap = "allow"
	// OverlapSkip drops a tick while the job of the schedule's previous
	// fired tick is live (pending, scheduled, running or retrying), as its
	// status record says.
	OverlapSkip Overlap = "skip"
)

// Defaults of schedules.
const (
	// DefaultMissedMax bounds the ticks MissedAll fires at once.
	DefaultMissedMax = 10
	// DefaultCronGrace is how old a tick may be and still count as on
	// time (fired under MissedSkip).
	DefaultCronGrace = time.Minute
)

// Schedule enqueues a job of Kind with Payload on every tick of a
// timetable. Every instance of the app computes the same ticks and
// enqueues each with a job ID derived from the schedule's name and the
// tick's time, so that however many instances run, each tick becomes one
// ordinary job (see docs/queue.md, "Cron"). Build one with [Cron] or
// [Every] and give it to the app with [AsSchedule].
type Schedule struct {
	// Name identifies the schedule in job IDs and in the backend: 1-64
	// of a-z, 0-9, - and _, unique in the app.
	Name string
	// Spec is a cron expression of 5 fields (minute first), 6 (seconds
	// first) or 7 (with a year), a gronx tag such as "@daily", or
	// "@every <duration>" (whole seconds; ticks at multiples of the
	// duration since the Unix epoch).
	Spec string
	// Kind and Payload are the job's; Options its enqueue options (queue,
	// attempts, timeout, priority). ID, Unique, Delay and At are set by
	// the scheduler and must not be given.
	Kind    string
	Payload any
	Options []Option
	// Location is the time zone of Spec. Default UTC.
	Location *time.Location
	// Missed is the missed-tick policy. Default MissedSkip.
	Missed Missed
	// MissedMax bounds the ticks MissedAll fires at once. Default
	// DefaultMissedMax.
	MissedMax int
	// Overlap is the overlap policy. Default OverlapAllow.
	Overlap Overlap

	key string // config key ("queue.schedules.x") when read from config
}

// Cron returns the schedule name that enqueues kind with payload on the
// ticks of the cron expression spec ("0 */5 * * * *": every five minutes,
// at second 0), in UTC unless [Schedule.In] says otherwise.
func Cron(name, spec, kind string, payload any, opts ...Option) Schedule {
	return Schedule{Name: name, Spec: spec, Kind: kind, Payload: payload, Options: opts}
}

// Every returns the schedule name that enqueues kind with payload every
// d (whole seconds), on the multiples of d since the Unix epoch, so that
// every instance agrees on the ticks whenever it started.
func Every(name string, d time.Duration, kind string, payload any, opts ...Option) Schedule {
	return Cron(name, "@every "+d.String(), kind, payload, opts...)
}

// In returns s with its spec read in the time zone loc.
func (s Schedule) In(loc *time.Location) Schedule { s.Location = loc; return s }

// WhenMissed returns s with the missed-tick policy p; max bounds
// MissedAll (0: DefaultMissedMax).
func (s Schedule) WhenMissed(p Missed, max int) Schedule { s.Missed, s.MissedMax = p, max; return s }

// WhenOverlapping returns s with the overlap policy p.
func (s Schedule) WhenOverlapping(p Overlap) Schedule { s.Overlap = p; return s }

// scheduleGroup collects the schedules given with AsSchedule.
const scheduleGroup = "apex.queue.schedules"

// AsSchedule gives schedules to the queue module, next to those of
// queue.schedules in config:
//
//	fx.Options(queue.AsSchedule(
//		queue.Cron("digest", "0 8 * * *", "digest.send", nil).In(paris).WhenMissed(queue.MissedLast, 0),
//		queue.Every("sync", 30*time.Second, "crm.sync", nil).WhenOverlapping(queue.OverlapSkip),
//	))
func AsSchedule(schedules ...Schedule) fx.Option {
	opts := make([]fx.Option, len(schedules))
	for i, s := range schedules {
		opts[i] = fx.Provide(fx.Annotate(func() Schedule { return s }, fx.ResultTags(`group:"`+scheduleGroup+`"`)))
	}
	return fx.Options(opts...)
}

// timetable is a parsed spec.
type timetable struct {
	every int64  // seconds, or 0 for a cron expression
	expr  string // the cron expression
	loc   *time.Location
}

// parseSpec parses spec in loc.
func parseSpec(spec string, loc *time.Location) (timetable, error) {
	if loc == nil {
		loc = time.UTC
	}
	spec = strings.TrimSpace(spec)
	if rest, ok := strings.CutPrefix(spec, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil || d < time.Second || d%time.Second != 0 {
			return timetable{}, fmt.Errorf("invalid spec %q: @every needs a whole number of seconds, at least 1s", spec)
		}
		return timetable{every: int64(d / time.Second), loc: loc}, nil
	}
	if spec == "" || !gronx.IsValid(spec) {
		return timetable{}, fmt.Errorf("invalid cron spec %q: want 5-7 fields (seconds first when 6), a tag such as @daily, or @every <duration>", spec)
	}
	t := timetable{expr: spec, loc: loc}
	if _, err := t.next(time.Now()); err != nil {
		return timetable{}, fmt.Errorf("invalid cron spec %q: %w", spec, err)
	}
	return t, nil
}

// prev returns the latest tick at or before now (zero when there is none).
func (t timetable) prev(now time.Time) (time.Time, error) {
	if t.every > 0 {
		s := now.Unix()
		return time.Unix(s-mod(s, t.every), 0).UTC(), nil
	}
	p, err := gronx.PrevTickBefore(t.expr, now.In(t.loc), true)
	if err != nil {
		return time.Time{}, err
	}
	return p.UTC(), nil
}

// before returns the latest tick strictly before tick.
func (t timetable) before(tick time.Time) (time.Time, error) {
	if t.every > 0 {
		return tick.Add(-time.Duration(t.every) * time.Second), nil
	}
	return t.prev(tick.Add(-time.Second))
}

// next returns the first tick strictly after now.
func (t timetable) next(now time.Time) (time.Time, error) {
	if t.every > 0 {
		s := now.Unix()
		return time.Unix(s-mod(s, t.every)+t.every, 0).UTC(), nil
	}
	n, err := gronx.NextTickAfter(t.expr, now.In(t.loc), false)
	if err != nil {
		return time.Time{}, err
	}
	return n.UTC(), nil
}

func mod(a, b int64) int64 { return ((a % b) + b) % b }

// CronID returns the job ID of the tick of schedule name on queue: the
// same in every instance, so that enqueuing it twice is a duplicate.
func CronID(queue, name string, tick time.Time) string {
	return queue + ".cron-" + name + "-" + strconv.FormatInt(tick.Unix(), 10)
}

// TickOf returns the schedule and the tick of a job ID made by a
// schedule, and false for any other ID.
func TickOf(id string) (schedule string, tick time.Time, ok bool) {
	q := QueueOf(id)
	if q == "" {
		return "", time.Time{}, false
	}
	rest, ok := strings.CutPrefix(id[len(q)+1:], "cron-")
	i := strings.LastIndexByte(rest, '-')
	if !ok || i <= 0 {
		return "", time.Time{}, false
	}
	sec, err := strconv.ParseInt(rest[i+1:], 10, 64)
	if err != nil || !nameRE.MatchString(rest[:i]) {
		return "", time.Time{}, false
	}
	return rest[:i], time.Unix(sec, 0).UTC(), true
}

// check validates s and returns its timetable; errors name its config
// key and env var when it came from config.
func (s Schedule) check() (timetable, error) {
	where := func(field string) string {
		switch {
		case s.key == "":
			return fmt.Sprintf("schedule %q", s.Name)
		case field == "":
			return s.key
		}
		k := s.key + "." + field
		return k + " (" + app.EnvName(k) + ")"
	}
	var errs []error
	if !nameRE.MatchString(s.Name) {
		errs = append(errs, fmt.Errorf("queue: %s: invalid name: use 1-64 of a-z, 0-9, - and _", where("")))
	}
	if s.Kind == "" {
		errs = append(errs, fmt.Errorf("queue: %s: a schedule needs a job kind", where("kind")))
	}
	t, err := parseSpec(s.Spec, s.Location)
	if err != nil {
		errs = append(errs, fmt.Errorf("queue: %s: %w", where("spec"), err))
	}
	switch s.Missed {
	case "", MissedSkip, MissedLast, MissedAll:
	default:
		errs = append(errs, fmt.Errorf("queue: %s: unknown missed policy %q: want skip, last or all", where("missed"), s.Missed))
	}
	if s.MissedMax < 0 {
		errs = append(errs, fmt.Errorf("queue: %s: must not be negative", where("missed_max")))
	}
	switch s.Overlap {
	case "", OverlapAllow, OverlapSkip:
	default:
		errs = append(errs, fmt.Errorf("queue: %s: unknown overlap policy %q: want allow or skip", where("overlap"), s.Overlap))
	}
	var o options
	for _, f := range s.Options {
		f(&o)
	}
	if o.id != "" || o.uniqueKey != "" || o.delay != 0 || !o.runAt.IsZero() {
		errs = append(errs, fmt.Errorf("queue: %s: ID, Unique, Delay and At are the scheduler's; leave them out", where("")))
	}
	return t, errors.Join(errs...)
}
