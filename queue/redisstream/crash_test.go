package redisstream_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/apexgo/apex/internal/testservice"
	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/queuetest"
	"github.com/apexgo/apex/queue/redisstream"
)

// The crash tests run workers as separate processes (this test binary
// again, running TestHelperWorker) and SIGKILL them.
const (
	crashHeartbeat = 200 * time.Millisecond
	crashReclaim   = 3 * crashHeartbeat
)

type crashJob struct {
	N     int `json:"n"`
	Sleep int `json:"sleep_ms"`
}

// TestHelperWorker is a worker process for the crash tests; it does
// nothing unless started by one of them.
func TestHelperWorker(t *testing.T) {
	addr, prefix, q := os.Getenv("QUEUE_HELPER_REDIS"), os.Getenv("QUEUE_HELPER_PREFIX"), os.Getenv("QUEUE_HELPER_QUEUE")
	if addr == "" {
		t.Skip("a helper process of the crash tests")
	}
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, ForceSingleClient: true, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := redisstream.New(c, redisstream.Config{Prefix: prefix, Heartbeat: crashHeartbeat, ReclaimAfter: crashReclaim})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := queue.New(queue.Params{Backend: b, Config: queue.Config{Queues: map[string]queue.QueueConfig{q: {Concurrency: 10}}, Poll: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(os.Getpid())
	started, done := "{"+prefix+"}:started", "{"+prefix+"}:done"
	queue.Handle(cl.Worker(), "crash", func(ctx context.Context, j queue.Job[crashJob]) error {
		if err := c.Do(ctx, c.B().Rpush().Key(started).Element(fmt.Sprintf("%d %s", j.Payload.N, pid)).Build()).Error(); err != nil {
			return err
		}
		time.Sleep(time.Duration(j.Payload.Sleep) * time.Millisecond)
		return c.Do(ctx, c.B().Hincrby().Key(done).Field(strconv.Itoa(j.Payload.N)).Increment(1).Build()).Error()
	}, queue.On(q))
	if err := cl.Worker().Start(); err != nil {
		t.Fatal(err)
	}
	select {} // until killed
}

// worker starts a helper worker process.
func startWorker(t *testing.T, addr, prefix, q string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWorker$", "-test.count=1")
	cmd.Env = append(os.Environ(), "QUEUE_HELPER_REDIS="+addr, "QUEUE_HELPER_PREFIX="+prefix, "QUEUE_HELPER_QUEUE="+q)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kill(cmd) })
	return cmd
}

func kill(cmd *exec.Cmd) {
	if cmd.ProcessState == nil {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}
}

func crashClient(t *testing.T, c rueidis.Client, prefix, q string) *queue.Client {
	b, err := redisstream.New(c, redisstream.Config{Prefix: prefix, Heartbeat: crashHeartbeat, ReclaimAfter: crashReclaim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	cl, err := queue.New(queue.Params{Backend: b, Config: queue.Config{Queues: map[string]queue.QueueConfig{q: {}}}})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// A worker process killed mid-job: the job finishes on another worker
// within the documented bound (reclaim_after + one heartbeat after the
// death, plus its own run time) and is recorded succeeded once.
func TestCrashMidJob(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	c := connect(t, addr)
	prefix, q := queuetest.Prefix(), queuetest.QueueName()
	cleanup(t, c, prefix)
	cl := crashClient(t, c, prefix, q)
	workers := map[string]*exec.Cmd{}
	for range 2 {
		w := startWorker(t, addr, prefix, q)
		workers[strconv.Itoa(w.Process.Pid)] = w
	}
	time.Sleep(500 * time.Millisecond) // let both connect
	const run = time.Second
	id, err := cl.Enqueue(t.Context(), "crash", crashJob{N: 1, Sleep: int(run / time.Millisecond)}, queue.On(q))
	if err != nil {
		t.Fatal(err)
	}
	victim := waitStarted(t, c, prefix, 1)
	kill(workers[victim])
	killed := time.Now()
	var st queue.Status
	for {
		st, err = cl.Status(t.Context(), id)
		if err == nil && st.State == queue.Succeeded {
			break
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("job not finished 30s after its worker died: %+v, %v", st, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(killed)
	// The documented bound, with a second of slack for a loaded machine.
	bound := crashReclaim + crashHeartbeat + run + time.Second
	t.Logf("job finished %v after its worker was killed (bound %v)", took, bound)
	if took > bound {
		t.Fatalf("job finished %v after the kill; the documented bound is %v", took, bound)
	}
	if st.Attempts != 2 {
		t.Fatalf("record %+v; want 2 attempts", st)
	}
	if n := doneCount(t, c, prefix)[1]; n != 1 {
		t.Fatalf("the handler completed %d times; want once", n)
	}
}

// waitStarted returns the pid of the worker that started job n.
func waitStarted(t *testing.T, c rueidis.Client, prefix string, n int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ls, _ := c.Do(t.Context(), c.B().Lrange().Key("{"+prefix+"}:started").Start(0).Stop(-1).Build()).AsStrSlice()
		for _, l := range ls {
			if num, pid, _ := strings.Cut(l, " "); num == strconv.Itoa(n) {
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("job %d did not start", n)
	return ""
}

func doneCount(t *testing.T, c rueidis.Client, prefix string) map[int]int {
	t.Helper()
	m, err := c.Do(t.Context(), c.B().Hgetall().Key("{"+prefix+"}:done").Build()).AsStrMap()
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	for k, v := range m {
		n, _ := strconv.Atoi(k)
		out[n], _ = strconv.Atoi(v)
	}
	return out
}

// 1,000 jobs on three worker processes, two of them SIGKILLed at random
// moments: every job succeeds (at least once; duplicates are logged).
func TestCrashThousandJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	c := connect(t, addr)
	prefix, q := queuetest.Prefix(), queuetest.QueueName()
	cleanup(t, c, prefix)
	cl := crashClient(t, c, prefix, q)
	var ws []*exec.Cmd
	for range 3 {
		ws = append(ws, startWorker(t, addr, prefix, q))
	}
	const total = 1000
	items := make([]queue.Item, total)
	for i := range items {
		items[i] = queue.Item{Kind: "crash", Payload: crashJob{N: i, Sleep: rand.IntN(20)}, Options: []queue.Option{queue.On(q)}}
	}
	res, err := cl.EnqueueMany(t.Context(), items...)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range rand.Perm(3)[:2] {
		time.Sleep(time.Duration(200+rand.IntN(800)) * time.Millisecond)
		kill(ws[i])
		t.Logf("killed worker %d (pid %d)", i, ws[i].Process.Pid)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, r := range res {
		for {
			st, err := cl.Status(t.Context(), r.ID)
			if err == nil && st.State == queue.Succeeded {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %s: %+v, %v", r.ID, st, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	done := doneCount(t, c, prefix)
	dups := 0
	for i := range total {
		switch n := done[i]; {
		case n == 0:
			t.Fatalf("job %d is succeeded but its handler never completed", i)
		case n > 1:
			dups += n - 1
		}
	}
	t.Logf("%d jobs succeeded, none lost; %d handler runs repeated after a kill (at-least-once)", total, dups)
}

// Redis restarted mid-run (its own server, AOF with fsync always): the
// producer retries its enqueues with deterministic IDs, the workers
// resume, and every job succeeds.
func TestRedisRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	t.Parallel()
	srv := startRedis(t)
	c := connect(t, srv.addr())
	prefix, q := queuetest.Prefix(), queuetest.QueueName()
	b, err := redisstream.New(c, redisstream.Config{Prefix: prefix, Heartbeat: crashHeartbeat, CommandTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	cl, err := queue.New(queue.Params{Backend: b, Config: queue.Config{Queues: map[string]queue.QueueConfig{q: {Concurrency: 10}}, Poll: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan int, 10_000)
	queue.Handle(cl.Worker(), "r", func(_ context.Context, j queue.Job[int]) error {
		time.Sleep(2 * time.Millisecond)
		ran <- j.Payload
		return nil
	}, queue.On(q))
	if err := cl.Worker().Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = cl.Worker().Stop(ctx)
	})
	const total = 600
	ids := make([]string, total)
	retried := 0
	for i := range total {
		ids[i] = fmt.Sprintf("%s.job-%d", q, i)
		if i == total/2 {
			srv.stop()
			go func() {
				time.Sleep(time.Second)
				srv.start()
			}()
		}
		for {
			_, err := cl.Enqueue(t.Context(), "r", i, queue.On(q), queue.ID(ids[i]))
			if err == nil || errorsIsDuplicate(err) {
				break
			}
			retried++
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(2 * time.Millisecond)
	}
	deadline := time.Now().Add(time.Minute)
	for _, id := range ids {
		for {
			st, err := cl.Status(t.Context(), id)
			if err == nil && st.State == queue.Succeeded {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %s after the restart: %+v, %v", id, st, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("%d jobs succeeded across a Redis restart; %d enqueue calls retried while it was down", total, retried)
}

func errorsIsDuplicate(err error) bool { return errors.Is(err, queue.ErrDuplicate) }
