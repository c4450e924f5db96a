package redisstream_test

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/queuetest"
	"github.com/apexgo/apex/queue/redisstream"
)

// 100,000 jobs through the Redis backend on a server of its own: once
// the records of finished jobs have expired, Redis memory and this
// process's RSS are back where they were (acknowledged entries are
// deleted from the streams; nothing else grows).
func TestHundredThousandJobsFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 100,000 jobs")
	}
	srv := startRedis(t, "--appendonly", "no")
	c := connect(t, srv.addr())
	q := queuetest.QueueName()
	const ttl = 2 * time.Second
	b, err := redisstream.New(c, redisstream.Config{Prefix: queuetest.Prefix(), StatusTTL: ttl, CommandTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	cl, err := queue.New(queue.Params{Backend: b, Config: queue.Config{Queues: map[string]queue.QueueConfig{q: {Concurrency: 50}}, StatusTTL: ttl}})
	if err != nil {
		t.Fatal(err)
	}
	var ran atomic.Int64
	queue.Handle(cl.Worker(), "noop", func(context.Context, queue.Job[int]) error { ran.Add(1); return nil }, queue.On(q))
	if err := cl.Worker().Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = cl.Worker().Stop(ctx)
	})
	run := func(n int) {
		start := ran.Load()
		for i := 0; i < n; i += 1000 {
			items := make([]queue.Item, min(1000, n-i))
			for j := range items {
				items[j] = queue.Item{Kind: "noop", Payload: i + j, Options: []queue.Option{queue.On(q)}}
			}
			if _, err := cl.EnqueueMany(t.Context(), items...); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(5 * time.Minute)
		for ran.Load() < start+int64(n) {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d jobs ran", ran.Load()-start, n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	settle := func() (rss, heap, mem int64) {
		time.Sleep(ttl + time.Second)
		deadline := time.Now().Add(30 * time.Second)
		for { // let Redis's active expiry reclaim the finished records
			n, err := c.Do(t.Context(), c.B().Dbsize().Build()).AsInt64()
			if err != nil {
				t.Fatal(err)
			}
			if n <= 5 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return vmRSS(t), int64(ms.HeapInuse), usedMemory(t, c)
	}
	run(5_000) // warm up: connections, buffers, the streams' first nodes
	rss0, heap0, mem0 := settle()
	began := time.Now()
	run(100_000)
	took := time.Since(began)
	peak := usedMemory(t, c)
	rss1, heap1, mem1 := settle()
	keys, _ := c.Do(t.Context(), c.B().Dbsize().Build()).AsInt64()
	t.Logf("100,000 jobs in %v (%.0f jobs/s, enqueue and run, concurrency 50)", took.Round(time.Millisecond), 100_000/took.Seconds())
	t.Logf("Redis used_memory: before %d KiB, right after the run %d KiB, after expiry %d KiB (%d keys left)", mem0>>10, peak>>10, mem1>>10, keys)
	t.Logf("process RSS: before %d KiB, after %d KiB; Go heap in use: before %d KiB, after %d KiB (race detector: %v)",
		rss0>>10, rss1>>10, heap0>>10, heap1>>10, raceEnabled)
	if mem1-mem0 > 1<<20 {
		t.Errorf("Redis memory grew by %d KiB over 100,000 jobs", (mem1-mem0)>>10)
	}
	if heap1-heap0 > 8<<20 {
		t.Errorf("the Go heap grew by %d KiB over 100,000 jobs", (heap1-heap0)>>10)
	}
	if !raceEnabled && rss1-rss0 > 32<<20 {
		t.Errorf("RSS grew by %d KiB over 100,000 jobs", (rss1-rss0)>>10)
	}
}

func vmRSS(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n << 10
		}
	}
	return 0
}
