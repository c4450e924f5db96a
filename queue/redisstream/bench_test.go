package redisstream_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/apexgo/apex/internal/testservice"
	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/port"
	"github.com/apexgo/apex/queue/queuetest"
	"github.com/apexgo/apex/queue/redisstream"
)

func benchBackend(b *testing.B) *redisstream.Queue {
	c := connect(b, testservice.Need(b, testservice.Redis))
	prefix := "bench" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	q, err := redisstream.New(c, redisstream.Config{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = q.Close() })
	cleanup(b, c, prefix)
	return q
}

// BenchmarkRedisEnqueueBatch stores b.N jobs in batches of 1000.
func BenchmarkRedisEnqueueBatch(b *testing.B) {
	q := benchBackend(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += 1000 {
		msgs := make([]port.Message, min(1000, b.N-i))
		for j := range msgs {
			msgs[j] = port.Message{ID: queue.NewID("b"), Kind: "noop", Queue: "b", Payload: []byte(strconv.Itoa(i + j)), MaxAttempts: 25}
		}
		if _, err := q.Enqueue(ctx, msgs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
}

// BenchmarkRedisProcess runs b.N waiting no-op jobs at concurrency 50.
func BenchmarkRedisProcess(b *testing.B) {
	queuetest.BenchmarkProcess(b, benchBackend(b), "b", 50)
}

// BenchmarkRedisProcess10 runs b.N waiting no-op jobs at concurrency 10.
func BenchmarkRedisProcess10(b *testing.B) {
	queuetest.BenchmarkProcess(b, benchBackend(b), "b", 10)
}
