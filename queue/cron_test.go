package queue_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/memory"
	"github.com/apexgo/apex/queue/port"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// cronEnv is one backend and tick store that several scheduler
// "instances" share.
type cronEnv struct {
	t       *testing.T
	backend *memory.Queue
	client  *queue.Client
	ticks   queue.TickStore
}

func newCronEnv(t *testing.T) *cronEnv {
	t.Helper()
	b, err := memory.New(memory.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	c, err := queue.New(queue.Params{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	return &cronEnv{t: t, backend: b, client: c, ticks: queue.MemoryTicks()}
}

// instance is a new scheduler (a process starting) on the shared backend.
func (e *cronEnv) instance(now func() time.Time, grace time.Duration, s ...queue.Schedule) *queue.Scheduler {
	e.t.Helper()
	sc, err := queue.NewScheduler(queue.SchedulerParams{Client: e.client, Schedules: s, Ticks: e.ticks, Now: now, Grace: grace})
	if err != nil {
		e.t.Fatal(err)
	}
	return sc
}

func (e *cronEnv) check(s *queue.Scheduler) {
	e.t.Helper()
	if err := s.Check(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// jobs returns the ticks of the jobs of schedule name on the default
// queue among candidates, in order.
func (e *cronEnv) fired(name string, candidates []time.Time) []time.Time {
	e.t.Helper()
	var out []time.Time
	for _, tick := range candidates {
		_, err := e.client.Status(context.Background(), queue.CronID(queue.DefaultQueue, name, tick))
		if err == nil {
			out = append(out, tick)
		} else if !errors.Is(err, queue.ErrNotFound) {
			e.t.Fatal(err)
		}
	}
	return out
}

func (e *cronEnv) ready() int64 {
	e.t.Helper()
	st, err := e.backend.Stats(context.Background(), queue.DefaultQueue)
	if err != nil {
		e.t.Fatal(err)
	}
	return st.Ready + st.Scheduled + st.Running
}

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func minutes(from time.Time, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = from.Add(time.Duration(i) * time.Minute)
	}
	return out
}

// Three instances whose clocks differ by up to 600 ms, checking every
// 100 ms of a 20 s run: each tick of a 1 s schedule is one job.
func TestCronOncePerTickSkewedInstances(t *testing.T) {
	t.Parallel()
	e := newCronEnv(t)
	base := newFakeClock(epoch.Add(-50 * time.Millisecond))
	var inst []*queue.Scheduler
	for _, off := range []time.Duration{0, 300 * time.Millisecond, -300 * time.Millisecond} {
		inst = append(inst, e.instance(func() time.Time { return base.Now().Add(off) }, 0,
			queue.Every("beat", time.Second, "beat", nil)))
	}
	for range 200 {
		base.Add(100 * time.Millisecond)
		for _, s := range inst {
			e.check(s)
		}
	}
	// The fast instance saw ticks up to epoch+20s (its clock ran 300 ms
	// ahead); the first check (at epoch+50ms) fired epoch.
	var want []time.Time
	for i := 0; i <= 20; i++ {
		want = append(want, epoch.Add(time.Duration(i)*time.Second))
	}
	got := e.fired("beat", want)
	if !slices.Equal(got, want) {
		t.Fatalf("fired ticks %v; want every second %v", got, want)
	}
	if n := e.ready(); n != int64(len(want)) {
		t.Fatalf("%d jobs stored; want %d, one per tick", n, len(want))
	}
}

// All instances down for ten minutes of a one-minute schedule: what the
// first one back fires depends on the missed policy.
func TestCronMissedPolicies(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		missed  queue.Missed
		max     int
		restart time.Duration // after the last tick seen
		want    []int         // minutes after epoch fired at restart
	}{
		"skip, late":      {missed: queue.MissedSkip, restart: 10*time.Minute + 30*time.Second},
		"skip, on time":   {missed: queue.MissedSkip, restart: 10*time.Minute + 5*time.Second, want: []int{10}},
		"default is skip": {restart: 10*time.Minute + 30*time.Second},
		"last":            {missed: queue.MissedLast, restart: 10*time.Minute + 30*time.Second, want: []int{10}},
		"all, bounded":    {missed: queue.MissedAll, max: 3, restart: 10*time.Minute + 30*time.Second, want: []int{8, 9, 10}},
		"all, default 10": {missed: queue.MissedAll, restart: 12*time.Minute + 30*time.Second, want: []int{3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		"all, few":        {missed: queue.MissedAll, max: 5, restart: 2*time.Minute + 30*time.Second, want: []int{1, 2}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newCronEnv(t)
			clock := newFakeClock(epoch)
			s := queue.Every("m", time.Minute, "m", nil).WhenMissed(tc.missed, tc.max)
			e.check(e.instance(clock.Now, 10*time.Second, s))
			clock.Add(tc.restart)
			e.check(e.instance(clock.Now, 10*time.Second, s))
			var want []time.Time
			for _, m := range append([]int{0}, tc.want...) {
				want = append(want, epoch.Add(time.Duration(m)*time.Minute))
			}
			if got := e.fired("m", minutes(epoch, 20)); !slices.Equal(got, want) {
				t.Fatalf("fired %v; want %v", got, want)
			}
			// The restarted instance does not fire them again.
			e.check(e.instance(clock.Now, 10*time.Second, s))
			if n := e.ready(); n != int64(len(want)) {
				t.Fatalf("%d jobs; want %d", n, len(want))
			}
		})
	}
}

// A daily schedule (midnight in Paris) fires once a day although every
// instance lives 30 s and restarts after 2 s down, for 2 days: ticks
// come from the timetable and the last one handled from the store, not
// from the process's start time.
func TestCronDailySurvivesRestartStorm(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no tz database:", err)
	}
	for _, missed := range []queue.Missed{queue.MissedSkip, queue.MissedLast} {
		t.Run(string(missed), func(t *testing.T) {
			t.Parallel()
			e := newCronEnv(t)
			s := queue.Cron("nightly", "0 0 * * *", "nightly", nil).In(paris).WhenMissed(missed, 0)
			start := time.Date(2026, 3, 1, 23, 58, 0, 0, paris)
			end := start.Add(2 * 24 * time.Hour)
			clock := newFakeClock(start)
			var lives int
			for clock.Now().Before(end) {
				lives++
				born := clock.Now()
				inst := e.instance(clock.Now, 0, s)
				e.check(inst) // at start
				for next := inst.Next(); next.Before(born.Add(30 * time.Second)); next = inst.Next() {
					clock.Set(next) // woken at the tick
					e.check(inst)
				}
				clock.Set(born.Add(32 * time.Second)) // 30 s up, 2 s down
			}
			var want []time.Time
			for d := 2; d <= 3; d++ {
				want = append(want, time.Date(2026, 3, d, 0, 0, 0, 0, paris).UTC())
			}
			var candidates []time.Time
			for h := range 3 * 24 * 4 {
				candidates = append(candidates, start.UTC().Truncate(time.Hour).Add(time.Duration(h)*15*time.Minute))
			}
			candidates = append(candidates, want...)
			slices.SortFunc(candidates, time.Time.Compare)
			candidates = slices.Compact(candidates)
			if got := e.fired("nightly", candidates); !slices.Equal(got, want) {
				t.Fatalf("after %d restarts fired %v; want %v", lives, got, want)
			}
			if n := e.ready(); n != 2 {
				t.Fatalf("%d jobs; want 2", n)
			}
		})
	}
}

// Overlap skip: a tick is dropped while the previous run is running, and
// fires again once it finished; allow enqueues every tick.
func TestCronOverlap(t *testing.T) {
	t.Parallel()
	for _, policy := range []queue.Overlap{queue.OverlapSkip, queue.OverlapAllow} {
		t.Run(string(policy), func(t *testing.T) {
			t.Parallel()
			e := newCronEnv(t)
			clock := newFakeClock(epoch)
			inst := e.instance(clock.Now, 0, queue.Every("o", time.Minute, "o", nil).WhenOverlapping(policy))
			e.check(inst)
			ds, err := e.backend.Fetch(context.Background(), port.FetchParams{Queue: queue.DefaultQueue, Max: 1, Kinds: []string{"o"}})
			if err != nil || len(ds) != 1 {
				t.Fatalf("fetch: %v %v", ds, err)
			}
			clock.Add(time.Minute) // the job of epoch is running
			e.check(inst)
			if err := e.backend.Settle(context.Background(), []port.Settlement{{Delivery: ds[0], Outcome: port.Succeed}}); err != nil {
				t.Fatal(err)
			}
			clock.Add(time.Minute)
			e.check(inst)
			want := minutes(epoch, 3)
			if policy == queue.OverlapSkip {
				want = []time.Time{epoch, epoch.Add(2 * time.Minute)}
			}
			if got := e.fired("o", minutes(epoch, 3)); !slices.Equal(got, want) {
				t.Fatalf("fired %v; want %v", got, want)
			}
		})
	}
}

func TestCronIDRoundTrip(t *testing.T) {
	t.Parallel()
	id := queue.CronID("mail", "daily-digest", epoch)
	name, tick, ok := queue.TickOf(id)
	if !ok || name != "daily-digest" || !tick.Equal(epoch) || queue.QueueOf(id) != "mail" {
		t.Fatalf("TickOf(%q) = %q %v %v", id, name, tick, ok)
	}
	for _, bad := range []string{"mail.abc", "mail.cron-x", "mail.cron--1", "cron-x-1", "mail.cron-X-1"} {
		if _, _, ok := queue.TickOf(bad); ok {
			t.Errorf("TickOf(%q) accepted", bad)
		}
	}
}

func TestSchedulerErrors(t *testing.T) {
	t.Parallel()
	e := newCronEnv(t)
	for name, tc := range map[string]struct {
		s    []queue.Schedule
		want string
	}{
		"bad spec":     {s: []queue.Schedule{queue.Cron("a", "61 * * * *", "k", nil)}, want: `invalid cron spec "61 * * * *"`},
		"bad every":    {s: []queue.Schedule{queue.Every("a", 1500*time.Millisecond, "k", nil)}, want: "whole number of seconds"},
		"bad name":     {s: []queue.Schedule{queue.Every("A b", time.Second, "k", nil)}, want: "invalid name"},
		"no kind":      {s: []queue.Schedule{queue.Every("a", time.Second, "", nil)}, want: "needs a job kind"},
		"twice":        {s: []queue.Schedule{queue.Every("a", time.Second, "k", nil), queue.Every("a", time.Minute, "k", nil)}, want: "given twice"},
		"own ID":       {s: []queue.Schedule{queue.Every("a", time.Second, "k", nil, queue.ID("default.x"))}, want: "leave them out"},
		"bad policies": {s: []queue.Schedule{queue.Every("a", time.Second, "k", nil).WhenMissed("some", -1).WhenOverlapping("never")}, want: "unknown missed policy"},
	} {
		_, err := queue.NewScheduler(queue.SchedulerParams{Client: e.client, Schedules: tc.s})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v; want one containing %q", name, err, tc.want)
		}
	}
}

// A bad schedule in config stops the app with its key and env var.
func TestCronConfigStartErrors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		schedule map[string]any
		want     string
	}{
		"spec":    {schedule: map[string]any{"spec": "every day", "kind": "k"}, want: "queue.schedules.nightly.spec (APP_QUEUE__SCHEDULES__NIGHTLY__SPEC)"},
		"tz":      {schedule: map[string]any{"spec": "@daily", "kind": "k", "tz": "Mars/Olympus"}, want: "APP_QUEUE__SCHEDULES__NIGHTLY__TZ"},
		"payload": {schedule: map[string]any{"spec": "@daily", "kind": "k", "payload": "{"}, want: "APP_QUEUE__SCHEDULES__NIGHTLY__PAYLOAD"},
		"missed":  {schedule: map[string]any{"spec": "@daily", "kind": "k", "missed": "sometimes"}, want: "APP_QUEUE__SCHEDULES__NIGHTLY__MISSED"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := apptest.Start(t, modules(), apptest.Config(map[string]any{"queue.schedules": map[string]any{"nightly": tc.schedule}}))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("start error %v; want one containing %q", err, tc.want)
			}
		})
	}
}

// A schedule from config and one from code fire ordinary jobs that the
// app's worker runs, on the real clock.
func TestCronInApp(t *testing.T) {
	t.Parallel()
	ran := make(chan string, 16)
	apptest.New(t, modules(
		queue.AsSchedule(queue.Every("code", time.Second, "tick.code", "hi")),
		fx.Invoke(func(c *queue.Client) {
			queue.Handle(c.Worker(), "tick.config", func(_ context.Context, j queue.Job[map[string]int]) error {
				if _, tick, ok := queue.TickOf(j.ID); ok && j.Payload["n"] == 7 && j.Subject == "cron:cfg" {
					ran <- "config@" + tick.Format(time.TimeOnly)
				}
				return nil
			})
			queue.Handle(c.Worker(), "tick.code", func(_ context.Context, j queue.Job[string]) error {
				ran <- "code:" + j.Payload
				return nil
			})
		}),
	), apptest.Config(map[string]any{"queue.schedules": map[string]any{
		"cfg": map[string]any{"spec": "* * * * * *", "kind": "tick.config", "payload": `{"n": 7}`},
	}}))
	seen := map[string]bool{}
	timeout := time.After(10 * time.Second)
	for !seen["config"] || !seen["code"] {
		select {
		case r := <-ran:
			seen[strings.FieldsFunc(r, func(r rune) bool { return r == '@' || r == ':' })[0]] = true
		case <-timeout:
			t.Fatalf("after 10 s only %v ran", seen)
		}
	}
}

// A schedule set from the environment alone: a bad spec names the env
// var.
func TestCronFromEnv(t *testing.T) {
	t.Parallel()
	_, err := apptest.Start(t, modules(), apptest.Env("APP_QUEUE__SCHEDULES__NIGHTLY__SPEC=0 0 32 * *",
		"APP_QUEUE__SCHEDULES__NIGHTLY__KIND=cleanup"))
	if err == nil || !strings.Contains(err.Error(), "APP_QUEUE__SCHEDULES__NIGHTLY__SPEC") {
		t.Fatalf("start error %v; want one naming APP_QUEUE__SCHEDULES__NIGHTLY__SPEC", err)
	}
}
