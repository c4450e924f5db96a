// Command queuebench measures apex's queue against hibiken/asynq on the
// same Redis, in one run (docs/queue.md, "Performance"): processed jobs/s
// with a no-op handler at concurrency 10 and 50, enqueue/s one at a time
// and batched, end-to-end latency at a steady 1,000 jobs/s, and the
// in-process backend's jobs/s.
//
//	go run ./cmd/queuebench -redis 127.0.0.1:6379 -n 20000
//
// Every run uses fresh queue names (apex: a random key prefix; asynq: a
// random queue) and deletes its keys at the end; it never flushes the
// server.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/rueidis"

	"github.com/apexgo/apex/internal/redisconn"
	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/memory"
	"github.com/apexgo/apex/queue/redisstream"
)

var (
	addr     = flag.String("redis", "127.0.0.1:6379", "Redis address")
	n        = flag.Int("n", 20_000, "jobs per throughput measurement")
	nMemory  = flag.Int("n-memory", 200_000, "jobs for the in-process backend")
	rate     = flag.Int("rate", 1000, "jobs/s of the latency measurement")
	duration = flag.Duration("latency-for", 10*time.Second, "length of the latency measurement")
	only     = flag.String("only", "", "run only apex or asynq")
	rows     = flag.String("rows", "process,enqueue,latency,memory", "measurements to run, comma-separated: process, enqueue, latency, memory")
)

// want reports whether -rows names row.
func want(row string) bool { return slices.Contains(strings.Split(*rows, ","), row) }

func main() {
	flag.Parse()
	ctx := context.Background()
	cfg := redisconn.DefaultConfig()
	cfg.Addr = *addr
	rc, err := redisconn.New(ctx, cfg, redisconn.Params{ClientName: "queuebench"})
	if err != nil {
		fail(err)
	}
	defer rc.Close()

	redisCli = rc
	fmt.Printf("%-44s %22s %14s %18s %18s\n", "measurement", "apex", "asynq", "apex CPU ms", "asynq CPU ms")
	fmt.Printf("%-44s %22s %14s %18s %18s\n", "", "", "", "(process/redis)", "(process/redis)")
	row := func(name string, a, b string) {
		fmt.Printf("%-44s %22s %14s %18s %18s\n", name, a, b, cpuUsed["apex"], cpuUsed["asynq"])
		clear(cpuUsed)
	}
	if want("process") {
		for _, c := range []int{10, 50} {
			a := perSec(runIf("apex", func() float64 { return apexProcess(ctx, rc, c) }))
			b := perSec(runIf("asynq", func() float64 { return asynqProcess(ctx, c) }))
			row(fmt.Sprintf("processed jobs/s, no-op, concurrency %d", c), a+ratio(a, b), b)
		}
	}
	if want("enqueue") {
		row("enqueue/s, one at a time, 1 caller", perSec(runIf("apex", func() float64 { return apexEnqueue(ctx, rc, 1, 1) })),
			perSec(runIf("asynq", func() float64 { return asynqEnqueue(ctx, 1) })))
		row("enqueue/s, one at a time, 50 callers", perSec(runIf("apex", func() float64 { return apexEnqueue(ctx, rc, 50, 1) })),
			perSec(runIf("asynq", func() float64 { return asynqEnqueue(ctx, 50) })))
		row("enqueue/s, batches of 1000, 1 caller", perSec(runIf("apex", func() float64 { return apexEnqueue(ctx, rc, 1, 1000) })), "n/a")
	}
	if want("latency") {
		a50, a99 := apexLatency(ctx, rc)
		q50, q99 := asynqLatency(ctx)
		row(fmt.Sprintf("end-to-end p50 at %d jobs/s, concurrency 10", *rate), ms(a50), ms(q50))
		row(fmt.Sprintf("end-to-end p99 at %d jobs/s, concurrency 10", *rate), ms(a99), ms(q99))
	}
	if want("memory") {
		row("in-process backend jobs/s, concurrency 50", perSec(runIf("apex", func() float64 { return memoryProcess(ctx) })), "n/a")
	}
}

// ratio is " (a/b×)" for two rates, or "" when either is missing.
func ratio(a, b string) string {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	if err1 != nil || err2 != nil || y <= 0 {
		return ""
	}
	return fmt.Sprintf(" (%.2f×)", x/y)
}

// cpuUsed is the CPU time of the last measurement of each side: this
// process's (user+sys, from getrusage; it includes the enqueuing of the
// jobs a throughput measurement runs) and the Redis server's (INFO cpu;
// the server is shared, so other clients' commands count too).
var (
	cpuUsed  = map[string]string{}
	redisCli rueidis.Client
)

func runIf(who string, f func() float64) float64 {
	if *only != "" && *only != who {
		return -1
	}
	p0, r0 := processCPU(), redisCPU()
	v := f()
	cpuUsed[who] = fmt.Sprintf("%.0f/%.0f", (processCPU()-p0).Seconds()*1000, (redisCPU()-r0).Seconds()*1000)
	return v
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the server's used_cpu_user + used_cpu_sys.
func redisCPU() time.Duration {
	info, err := redisCli.Do(context.Background(), redisCli.B().Info().Section("cpu").Build()).ToString()
	if err != nil {
		return 0
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

func perSec(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

func ms(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "queuebench:", err)
	os.Exit(1)
}

func random() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// apexClient returns a client on Redis with a fresh prefix, and a cleanup.
func apexClient(rc rueidis.Client, q string, concurrency int) (*queue.Client, func()) {
	prefix := "bench" + random() + ":"
	b, err := redisstream.New(rc, redisstream.Config{Prefix: prefix})
	if err != nil {
		fail(err)
	}
	c, err := queue.New(queue.Params{Backend: b, Config: queue.Config{Queues: map[string]queue.QueueConfig{q: {Concurrency: concurrency}}}})
	if err != nil {
		fail(err)
	}
	return c, func() {
		_ = b.Close()
		deleteKeys(rc, "{"+prefix+"*")
	}
}

func deleteKeys(rc rueidis.Client, pattern string) {
	ctx := context.Background()
	var cursor uint64
	for {
		e, err := rc.Do(ctx, rc.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Build()).AsScanEntry()
		if err != nil {
			return
		}
		if len(e.Elements) > 0 {
			rc.Do(ctx, rc.B().Del().Key(e.Elements...).Build())
		}
		if cursor = e.Cursor; cursor == 0 {
			return
		}
	}
}

func fill(ctx context.Context, c *queue.Client, q string, total int) {
	for i := 0; i < total; i += 1000 {
		items := make([]queue.Item, min(1000, total-i))
		for j := range items {
			items[j] = queue.Item{Kind: "noop", Payload: i + j, Options: []queue.Option{queue.On(q)}}
		}
		if _, err := c.EnqueueMany(ctx, items...); err != nil {
			fail(err)
		}
	}
}

// apexProcess: n jobs waiting, then workers at concurrency c; jobs/s until all ran.
func apexProcess(ctx context.Context, rc rueidis.Client, c int) float64 {
	q := "b" + random()
	cl, cleanup := apexClient(rc, q, c)
	defer cleanup()
	fill(ctx, cl, q, *n)
	return runWorker(ctx, cl, q, *n)
}

func runWorker(ctx context.Context, cl *queue.Client, q string, total int) float64 {
	var ran atomic.Int64
	done := make(chan struct{})
	queue.Handle(cl.Worker(), "noop", func(context.Context, queue.Job[int]) error {
		if ran.Add(1) == int64(total) {
			close(done)
		}
		return nil
	}, queue.On(q))
	start := time.Now()
	if err := cl.Worker().Start(); err != nil {
		fail(err)
	}
	<-done
	took := time.Since(start)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = cl.Worker().Stop(sctx)
	return float64(total) / took.Seconds()
}

func memoryProcess(ctx context.Context) float64 {
	b, err := memory.New(memory.Config{MaxJobs: *nMemory})
	if err != nil {
		fail(err)
	}
	defer b.Close()
	q := "mem"
	cl, err := queue.New(queue.Params{Backend: b, Config: queue.Config{Queues: map[string]queue.QueueConfig{q: {Concurrency: 50}}}})
	if err != nil {
		fail(err)
	}
	fill(ctx, cl, q, *nMemory)
	return runWorker(ctx, cl, q, *nMemory)
}

// apexEnqueue: n jobs by callers goroutines, batch jobs per call.
func apexEnqueue(ctx context.Context, rc rueidis.Client, callers, batch int) float64 {
	q := "b" + random()
	cl, cleanup := apexClient(rc, q, 1)
	defer cleanup()
	per := *n / callers
	var wg sync.WaitGroup
	start := time.Now()
	for range callers {
		wg.Go(func() {
			for i := 0; i < per; i += batch {
				items := make([]queue.Item, min(batch, per-i))
				for j := range items {
					items[j] = queue.Item{Kind: "noop", Payload: i + j, Options: []queue.Option{queue.On(q)}}
				}
				if _, err := cl.EnqueueMany(ctx, items...); err != nil {
					fail(err)
				}
			}
		})
	}
	wg.Wait()
	return float64(per*callers) / time.Since(start).Seconds()
}

// latency sends jobs at a steady rate carrying their enqueue time and
// returns the p50 and p99 of enqueue → handler start.
type latencies struct {
	mu sync.Mutex
	ds []time.Duration
}

func (l *latencies) add(sent int64) {
	d := time.Since(time.Unix(0, sent))
	l.mu.Lock()
	l.ds = append(l.ds, d)
	l.mu.Unlock()
}

func (l *latencies) wait(total int) (time.Duration, time.Duration) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		l.mu.Lock()
		got := len(l.ds)
		l.mu.Unlock()
		if got >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	slices.Sort(l.ds)
	if len(l.ds) == 0 {
		return -1, -1
	}
	return l.ds[len(l.ds)/2], l.ds[len(l.ds)*99/100]
}

func steady(send func(ts int64)) int {
	total := int(duration.Seconds() * float64(*rate))
	interval := time.Second / time.Duration(*rate)
	start := time.Now()
	for i := range total {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		send(time.Now().UnixNano())
	}
	return total
}

func apexLatency(ctx context.Context, rc rueidis.Client) (time.Duration, time.Duration) {
	if *only == "asynq" {
		return -1, -1
	}
	q := "b" + random()
	cl, cleanup := apexClient(rc, q, 10)
	defer cleanup()
	var l latencies
	queue.Handle(cl.Worker(), "lat", func(_ context.Context, j queue.Job[int64]) error { l.add(j.Payload); return nil }, queue.On(q))
	if err := cl.Worker().Start(); err != nil {
		fail(err)
	}
	defer cl.Worker().Stop(ctx)
	time.Sleep(200 * time.Millisecond)
	total := steady(func(ts int64) {
		if _, err := cl.Enqueue(ctx, "lat", ts, queue.On(q)); err != nil {
			fail(err)
		}
	})
	return l.wait(total)
}

// asynq side.

func asynqOpt() asynq.RedisClientOpt { return asynq.RedisClientOpt{Addr: *addr, PoolSize: 100} }

func asynqCleanup(q string) {
	in := asynq.NewInspector(asynqOpt())
	defer in.Close()
	_ = in.DeleteQueue(q, true)
}

func asynqFill(ctx context.Context, q string, total int) {
	c := asynq.NewClient(asynqOpt())
	defer c.Close()
	var wg sync.WaitGroup
	per := total / 50
	for range 50 {
		wg.Go(func() {
			for i := range per {
				p, _ := json.Marshal(i)
				if _, err := c.EnqueueContext(ctx, asynq.NewTask("noop", p), asynq.Queue(q)); err != nil {
					fail(err)
				}
			}
		})
	}
	wg.Wait()
}

func asynqServer(q string, c int, mux *asynq.ServeMux) *asynq.Server {
	srv := asynq.NewServer(asynqOpt(), asynq.Config{Concurrency: c, Queues: map[string]int{q: 1}, LogLevel: asynq.ErrorLevel})
	if err := srv.Start(mux); err != nil {
		fail(err)
	}
	return srv
}

func asynqProcess(ctx context.Context, c int) float64 {
	q := "b" + random()
	defer asynqCleanup(q)
	total := (*n / 50) * 50
	asynqFill(ctx, q, total)
	var ran atomic.Int64
	done := make(chan struct{})
	mux := asynq.NewServeMux()
	mux.HandleFunc("noop", func(context.Context, *asynq.Task) error {
		if ran.Add(1) == int64(total) {
			close(done)
		}
		return nil
	})
	start := time.Now()
	srv := asynqServer(q, c, mux)
	<-done
	took := time.Since(start)
	srv.Shutdown()
	return float64(total) / took.Seconds()
}

func asynqEnqueue(ctx context.Context, callers int) float64 {
	q := "b" + random()
	defer asynqCleanup(q)
	c := asynq.NewClient(asynqOpt())
	defer c.Close()
	per := *n / callers
	var wg sync.WaitGroup
	start := time.Now()
	for range callers {
		wg.Go(func() {
			for i := range per {
				p, _ := json.Marshal(i)
				if _, err := c.EnqueueContext(ctx, asynq.NewTask("noop", p), asynq.Queue(q)); err != nil {
					fail(err)
				}
			}
		})
	}
	wg.Wait()
	return float64(per*callers) / time.Since(start).Seconds()
}

func asynqLatency(ctx context.Context) (time.Duration, time.Duration) {
	if *only == "apex" {
		return -1, -1
	}
	q := "b" + random()
	defer asynqCleanup(q)
	var l latencies
	mux := asynq.NewServeMux()
	mux.HandleFunc("lat", func(_ context.Context, t *asynq.Task) error {
		var ts int64
		_ = json.Unmarshal(t.Payload(), &ts)
		l.add(ts)
		return nil
	})
	srv := asynqServer(q, 10, mux)
	defer srv.Shutdown()
	c := asynq.NewClient(asynqOpt())
	defer c.Close()
	time.Sleep(200 * time.Millisecond)
	total := steady(func(ts int64) {
		p, _ := json.Marshal(ts)
		if _, err := c.EnqueueContext(ctx, asynq.NewTask("lat", p), asynq.Queue(q)); err != nil {
			fail(err)
		}
	})
	return l.wait(total)
}
