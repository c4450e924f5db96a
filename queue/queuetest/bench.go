package queuetest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/port"
)

// BenchmarkProcess enqueues b.N no-op jobs on queue q of backend be in
// batches of 1000, then runs them with a worker at the given
// concurrency; it reports jobs/s for the run alone (enqueuing is outside
// the timer). A backend's own benchmarks call it, as apex's do.
func BenchmarkProcess(b *testing.B, be port.Queue, q string, concurrency int) {
	ctx := context.Background()
	cl, err := queue.New(queue.Params{Backend: be, Config: queue.Config{Queues: map[string]queue.QueueConfig{q: {Concurrency: concurrency}}}})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i += 1000 {
		items := make([]queue.Item, min(1000, b.N-i))
		for j := range items {
			items[j] = queue.Item{Kind: "noop", Payload: i + j, Options: []queue.Option{queue.On(q)}}
		}
		if _, err := cl.EnqueueMany(ctx, items...); err != nil {
			b.Fatal(err)
		}
	}
	var ran atomic.Int64
	done := make(chan struct{})
	queue.Handle(cl.Worker(), "noop", func(context.Context, queue.Job[int]) error {
		if ran.Add(1) == int64(b.N) {
			close(done)
		}
		return nil
	}, queue.On(q))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if err := cl.Worker().Start(); err != nil {
		b.Fatal(err)
	}
	<-done
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
	b.StopTimer()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = cl.Worker().Stop(sctx)
}
