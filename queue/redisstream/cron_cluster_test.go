package redisstream_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/queuetest"
	"github.com/apexgo/apex/queue/redisstream"
)

// The cron tick claim on a 3-node Redis Cluster that the test starts:
// three schedulers (clocks 0, +300 ms, -300 ms) of a 1 s schedule on one
// queue for about 4 s make one job per tick, and the tick store (one key
// under the queue's hash tag) works across the slots.
func TestCronCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	c := connect(t, startCluster(t)...)
	prefix, q := queuetest.Prefix(), queuetest.QueueName()
	cleanup(t, c, prefix)
	b, err := redisstream.New(c, redisstream.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	jobs, err := queue.New(queue.Params{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []time.Duration{0, 300 * time.Millisecond, -300 * time.Millisecond} {
		s, err := queue.NewScheduler(queue.SchedulerParams{Client: jobs, Ticks: queue.RedisTicks(c, prefix),
			Schedules: []queue.Schedule{queue.Every("beat", time.Second, "beat", nil, queue.On(q))},
			Now:       func() time.Time { return time.Now().Add(off) }})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
	}
	time.Sleep(4 * time.Second)
	start := time.Now().Add(-5 * time.Second).Truncate(time.Second)
	var fired []int64
	for i := range 10 {
		tick := start.Add(time.Duration(i) * time.Second)
		if _, err := jobs.Status(context.Background(), queue.CronID(q, "beat", tick)); err == nil {
			fired = append(fired, tick.Unix())
		}
	}
	st, err := b.Stats(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(fired) < 3 || st.Ready != int64(len(fired)) {
		t.Fatalf("ticks %v, %d jobs ready; want one job per tick", fired, st.Ready)
	}
	for i := 1; i < len(fired); i++ {
		if fired[i] != fired[i-1]+1 {
			t.Fatalf("ticks %v: a gap", fired)
		}
	}
	ticks, err := queue.RedisTicks(c, prefix).Load(context.Background(), q, "beat")
	if err != nil || ticks.Fired.Unix() < slices.Max(fired) {
		t.Fatalf("stored ticks %v %v; want fired at least %d", ticks, err, slices.Max(fired))
	}
}
