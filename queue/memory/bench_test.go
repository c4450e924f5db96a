package memory_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/memory"
)

// BenchmarkMemoryThroughput enqueues b.N no-op jobs in batches of 1000 and
// runs them with a worker at concurrency 50; it reports jobs/s for the
// run alone.
func BenchmarkMemoryThroughput(b *testing.B) {
	ctx := context.Background()
	be, err := memory.New(memory.Config{MaxJobs: max(b.N, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	cl, err := queue.New(queue.Params{Backend: be, Config: queue.Config{Queues: map[string]queue.QueueConfig{"mem": {Concurrency: 50}}}})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i += 1000 {
		items := make([]queue.Item, min(1000, b.N-i))
		for j := range items {
			items[j] = queue.Item{Kind: "noop", Payload: i + j, Options: []queue.Option{queue.On("mem")}}
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
	}, queue.On("mem"))
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
