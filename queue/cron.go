package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/zap"
)

// Ticks is what the backend remembers of a schedule: the last tick an
// instance handled (fired, or dropped by a policy) and the last one it
// enqueued a job for.
type Ticks struct {
	Seen, Fired time.Time
}

// TickStore keeps each schedule's [Ticks] where every instance sees them
// (the queue's Redis, or process memory for the in-process backend), so
// that an instance that starts after all were down knows which ticks were
// missed. Methods are safe for concurrent use and honour ctx.
type TickStore interface {
	// Load returns the schedule's ticks; zero times when none was stored.
	Load(ctx context.Context, queue, schedule string) (Ticks, error)
	// Save raises the stored ticks to t, field by field: a time never
	// goes back, whatever the order in which instances save.
	Save(ctx context.Context, queue, schedule string, t Ticks) error
}

// MemoryTicks returns a TickStore in process memory, for the in-process
// backend.
func MemoryTicks() TickStore { return &memoryTicks{m: map[string]Ticks{}} }

type memoryTicks struct {
	mu sync.Mutex
	m  map[string]Ticks
}

func (m *memoryTicks) Load(_ context.Context, queue, schedule string) (Ticks, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[queue+"\x00"+schedule], nil
}

func (m *memoryTicks) Save(_ context.Context, queue, schedule string, t Ticks) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := queue + "\x00" + schedule
	cur := m.m[k]
	if t.Seen.After(cur.Seen) {
		cur.Seen = t.Seen
	}
	if t.Fired.After(cur.Fired) {
		cur.Fired = t.Fired
	}
	m.m[k] = cur
	return nil
}

// RedisTicks returns a TickStore on Redis: a small hash per schedule,
// "{<prefix><queue>}:cron:<schedule>", under the queue's hash tag (the
// prefix is queue/redisstream's Config.Prefix), raised by one script that
// touches only that key, so it runs on Redis Cluster too.
func RedisTicks(client rueidis.Client, prefix string) TickStore {
	return &redisTicks{c: client, prefix: prefix}
}

type redisTicks struct {
	c      rueidis.Client
	prefix string
}

func (r *redisTicks) key(queue, schedule string) string {
	return "{" + r.prefix + queue + "}:cron:" + schedule
}

// raiseTicks sets each field to its argument when that is greater.
// KEYS: the schedule's hash; ARGV: seen, fired (unix seconds; 0: leave)
var raiseTicks = rueidis.NewLuaScript(`
local f = {'seen', 'fired'}
for i = 1, 2 do
  local v = tonumber(ARGV[i])
  if v > 0 and v > tonumber(redis.call('HGET', KEYS[1], f[i]) or '0') then
    redis.call('HSET', KEYS[1], f[i], ARGV[i])
  end
end
return 1
`)

func (r *redisTicks) Load(ctx context.Context, queue, schedule string) (Ticks, error) {
	vs, err := r.c.Do(ctx, r.c.B().Hmget().Key(r.key(queue, schedule)).Field("seen", "fired").Build()).ToArray()
	if err != nil {
		return Ticks{}, fmt.Errorf("queue: load the ticks of schedule %s: %w", schedule, err)
	}
	var ts [2]time.Time
	for i, v := range vs {
		if s, err := v.ToString(); err == nil {
			n, _ := strconv.ParseInt(s, 10, 64)
			ts[i] = time.Unix(n, 0).UTC()
		}
	}
	return Ticks{Seen: ts[0], Fired: ts[1]}, nil
}

func (r *redisTicks) Save(ctx context.Context, queue, schedule string, t Ticks) error {
	unix := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return strconv.FormatInt(t.Unix(), 10)
	}
	err := raiseTicks.Exec(ctx, r.c, []string{r.key(queue, schedule)}, []string{unix(t.Seen), unix(t.Fired)}).Error()
	if err != nil {
		return fmt.Errorf("queue: save the ticks of schedule %s: %w", schedule, err)
	}
	return nil
}

// SchedulerParams configures [NewScheduler].
type SchedulerParams struct {
	// Client enqueues the jobs. Required.
	Client *Client
	// Schedules to run; names must be unique.
	Schedules []Schedule
	// Ticks stores the schedules' last ticks. Default MemoryTicks().
	Ticks TickStore
	// Log receives fired, skipped and failed ticks. Default: none.
	Log *zap.Logger
	// Now is the scheduler's clock. Default time.Now. Tests give a fake
	// clock (and call Check) or an offset one.
	Now func() time.Time
	// Grace is how old a tick may be and still fire under MissedSkip.
	// Default DefaultCronGrace.
	Grace time.Duration
}

// Scheduler enqueues the jobs of schedules on their ticks. Run one in
// every instance: each computes the ticks from the schedules (not from
// the time it started) and enqueues each with [CronID], so a tick that
// several instances fire is stored once, and the others' enqueues are
// duplicates.
type Scheduler struct {
	c     *Client
	ticks TickStore
	log   *zap.Logger
	now   func() time.Time
	grace time.Duration

	mu      sync.Mutex // one Check at a time
	entries []*cronEntry

	stop context.CancelFunc
	done chan struct{}
}

type cronEntry struct {
	s      Schedule
	t      timetable
	queue  string
	loaded bool
	seen   time.Time
	fired  time.Time
	next   time.Time // the first tick after seen; zero: unknown
}

// NewScheduler validates p.Schedules and returns a Scheduler, not
// started. Every invalid schedule is reported, by config key and env var
// for those from config.
func NewScheduler(p SchedulerParams) (*Scheduler, error) {
	if p.Client == nil {
		return nil, errors.New("queue: SchedulerParams.Client is required")
	}
	if p.Grace < 0 {
		return nil, errors.New("queue: SchedulerParams.Grace must not be negative")
	}
	s := &Scheduler{c: p.Client, ticks: p.Ticks, log: p.Log, now: p.Now, grace: cmp.Or(p.Grace, DefaultCronGrace)}
	if s.ticks == nil {
		s.ticks = MemoryTicks()
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.now == nil {
		s.now = time.Now
	}
	var errs []error
	names := map[string]bool{}
	for _, sc := range p.Schedules {
		t, err := sc.check()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if names[sc.Name] {
			errs = append(errs, fmt.Errorf("queue: schedule %q is given twice", sc.Name))
			continue
		}
		names[sc.Name] = true
		sc.Missed = cmp.Or(sc.Missed, MissedSkip)
		sc.Overlap = cmp.Or(sc.Overlap, OverlapAllow)
		sc.MissedMax = cmp.Or(sc.MissedMax, DefaultMissedMax)
		s.entries = append(s.entries, &cronEntry{s: sc, t: t})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Names returns the schedules' names, sorted.
func (s *Scheduler) Names() []string {
	out := make([]string, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.s.Name
	}
	slices.Sort(out)
	return out
}

// resolve finds each schedule's queue (its options', else its kind's,
// else DefaultQueue), once the handlers are registered.
func (s *Scheduler) resolve() error {
	var errs []error
	for _, e := range s.entries {
		if e.queue != "" {
			continue
		}
		var o options
		s.c.mu.Lock()
		if k := s.c.kinds[e.s.Kind]; k != nil {
			o = k.opts
		}
		s.c.mu.Unlock()
		for _, f := range e.s.Options {
			f(&o)
		}
		q := cmp.Or(o.queue, DefaultQueue)
		if err := validQueue(q); err != nil {
			errs = append(errs, fmt.Errorf("schedule %q: %w", e.s.Name, err))
			continue
		}
		e.queue = q
	}
	return errors.Join(errs...)
}

// cronCallTimeout bounds each store or backend call of a Check.
const cronCallTimeout = 5 * time.Second

// Check fires what is due at the scheduler's clock: for each schedule,
// the ticks after the last one handled, as its missed-tick and overlap
// policies say. Start calls it at every tick; tests with a fake clock
// call it directly. A schedule whose store or backend fails keeps its
// ticks for the next Check; the errors are returned joined.
func (s *Scheduler) Check(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.resolve(); err != nil {
		return err
	}
	now := s.now()
	var errs []error
	for _, e := range s.entries {
		if err := s.check(ctx, e, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Scheduler) check(ctx context.Context, e *cronEntry, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, cronCallTimeout)
	defer cancel()
	if !e.loaded {
		t, err := s.ticks.Load(ctx, e.queue, e.s.Name)
		if err != nil {
			return err
		}
		e.seen, e.fired, e.loaded = t.Seen, t.Fired, true
	}
	if !e.seen.IsZero() && e.next.IsZero() {
		e.next, _ = e.t.next(e.seen)
	}
	if !e.next.IsZero() && now.Before(e.next) {
		return nil // the cheap test first: no tick since the last handled
	}
	cur, err := e.t.prev(now)
	if err != nil || cur.IsZero() || !cur.After(e.seen) {
		return nil // no tick yet, or none since the last handled
	}
	due, dropped, err := s.due(e, cur, now)
	if err != nil {
		return err
	}
	if dropped > 0 {
		s.log.Warn("queue: cron ticks missed while no instance ran them; dropped by the missed policy",
			zap.String("schedule", e.s.Name), zap.String("missed", string(e.s.Missed)), zap.Int("dropped", dropped))
	}
	fired := e.fired
	for _, tick := range due {
		if e.s.Overlap == OverlapSkip && !fired.IsZero() {
			live, err := s.live(ctx, CronID(e.queue, e.s.Name, fired))
			if err != nil {
				return err
			}
			if live {
				s.log.Info("queue: cron tick skipped: the previous run is not finished",
					zap.String("schedule", e.s.Name), zap.Time("tick", tick), zap.Time("previous", fired))
				continue
			}
		}
		opts := append(slices.Clip(e.s.Options), ID(CronID(e.queue, e.s.Name, tick)), Subject("cron:"+e.s.Name))
		id, err := s.c.Enqueue(ctx, e.s.Kind, e.s.Payload, opts...)
		switch {
		case errors.Is(err, ErrDuplicate):
			s.log.Debug("queue: cron tick already enqueued by another instance", zap.String("schedule", e.s.Name), zap.String("job_id", id))
		case err != nil:
			e.fired = fired
			return fmt.Errorf("queue: schedule %s, tick %s: %w", e.s.Name, tick.Format(time.RFC3339), err)
		default:
			s.log.Info("queue: cron tick enqueued", zap.String("schedule", e.s.Name), zap.Time("tick", tick), zap.String("job_id", id))
		}
		fired = tick
	}
	e.seen, e.fired, e.next = cur, fired, time.Time{}
	return s.ticks.Save(ctx, e.queue, e.s.Name, Ticks{Seen: cur, Fired: fired})
}

// due returns the ticks to fire, oldest first, for the latest tick cur,
// and how many missed ticks the policy dropped (counted up to MissedMax).
func (s *Scheduler) due(e *cronEntry, cur, now time.Time) ([]time.Time, int, error) {
	onTime := now.Sub(cur) <= s.grace
	// Ticks in (seen, cur], newest first, up to MissedMax + 1.
	ticks := []time.Time{cur}
	if !e.seen.IsZero() {
		for t := cur; len(ticks) <= e.s.MissedMax; {
			p, err := e.t.before(t)
			if err != nil || p.IsZero() || !p.After(e.seen) {
				break
			}
			ticks, t = append(ticks, p), p
		}
	}
	switch {
	case e.seen.IsZero():
		// Never fired anywhere: nothing was missed.
		if onTime {
			return ticks[:1], 0, nil
		}
		return nil, 0, nil
	case e.s.Missed == MissedLast:
		return ticks[:1], len(ticks) - 1, nil
	case e.s.Missed == MissedAll:
		n := min(len(ticks), e.s.MissedMax)
		out := slices.Clone(ticks[:n])
		slices.Reverse(out)
		return out, len(ticks) - n, nil
	case onTime:
		return ticks[:1], len(ticks) - 1, nil
	default:
		return nil, len(ticks), nil
	}
}

// live reports whether the job id is pending, scheduled, running or
// retrying.
func (s *Scheduler) live(ctx context.Context, id string) (bool, error) {
	st, err := s.c.Status(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !st.State.Terminal(), nil
}

// Next returns the earliest tick of any schedule after the scheduler's
// clock; zero without schedules.
func (s *Scheduler) Next() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var next time.Time
	for _, e := range s.entries {
		n, err := e.next, error(nil)
		if !n.After(now) {
			n, err = e.t.next(now)
		}
		if err == nil && (next.IsZero() || n.Before(next)) {
			next = n
		}
	}
	return next
}

// cronMaxSleep bounds the scheduler's sleep, so that a wall clock set
// forward is noticed.
const cronMaxSleep = time.Minute

// cronRetry is the wait after a failed Check.
const cronRetry = time.Second

// Start runs Check at every tick until Stop, in a goroutine. It returns
// an error when a schedule's queue is invalid.
func (s *Scheduler) Start() error {
	s.mu.Lock()
	err := s.resolve()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if s.stop != nil {
		return errors.New("queue: scheduler already started")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go s.run(ctx)
	return nil
}

func (s *Scheduler) run(ctx context.Context) {
	defer close(s.done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		wait := cronMaxSleep
		if err := s.Check(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("queue: cron check failed; retrying", zap.Error(err))
			wait = cronRetry
		}
		if next := s.Next(); !next.IsZero() {
			wait = min(wait, max(next.Sub(s.now()), 0))
		}
		timer.Reset(wait)
	}
}

// Stop ends the loop started by Start, waiting for a running Check
// until ctx ends.
func (s *Scheduler) Stop(ctx context.Context) error {
	if s.stop == nil {
		return nil
	}
	s.stop()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
