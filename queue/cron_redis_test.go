package queue_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/apexgo/apex/internal/testservice"
	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/redisstream"
)

func redisClient(t testing.TB) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{testservice.Need(t, testservice.Redis)},
		ForceSingleClient: true, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// testPrefix returns a random key prefix whose keys are deleted when the
// test ends (never FLUSHALL: the server is shared).
func testPrefix(t testing.TB, c rueidis.Client) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "crontest-" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		for _, k := range scanKeys(t, c, "{"+prefix+"*") {
			c.Do(context.Background(), c.B().Del().Key(k).Build())
		}
	})
	return prefix
}

func scanKeys(t testing.TB, c rueidis.Client, match string) []string {
	var out []string
	var cursor uint64
	for {
		e, err := c.Do(context.Background(), c.B().Scan().Cursor(cursor).Match(match).Count(1000).Build()).AsScanEntry()
		if err != nil {
			t.Error(err)
			return out
		}
		out = append(out, e.Elements...)
		if cursor = e.Cursor; cursor == 0 {
			return out
		}
	}
}

// The Redis tick store only ever raises a field, whatever the order of
// the instances' saves.
func TestRedisTicks(t *testing.T) {
	t.Parallel()
	c := redisClient(t)
	s := queue.RedisTicks(c, testPrefix(t, c))
	ctx := context.Background()
	if got, err := s.Load(ctx, "default", "x"); err != nil || !got.Seen.IsZero() || !got.Fired.IsZero() {
		t.Fatalf("empty store: %v %v", got, err)
	}
	t1, t2 := epoch, epoch.Add(time.Minute)
	for _, save := range []queue.Ticks{{Seen: t2, Fired: t1}, {Seen: t1, Fired: t1}, {Seen: t1}, {Fired: t2}} {
		if err := s.Save(ctx, "default", "x", save); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Load(ctx, "default", "x")
	if err != nil || !got.Seen.Equal(t2) || !got.Fired.Equal(t2) {
		t.Fatalf("Load = %v %v; want seen and fired %v", got, err, t2)
	}
	if got, _ := s.Load(ctx, "default", "y"); !got.Seen.IsZero() {
		t.Fatalf("another schedule sees %v", got)
	}
}

// The child process of the multi-instance tests: an app instance running
// the scheduler of one schedule every second on the parent's Redis and
// prefix, its clock offset by APEX_CRON_OFFSET, until it is killed.
func TestCronChildProcess(t *testing.T) {
	prefix := os.Getenv("APEX_CRON_PREFIX")
	if prefix == "" {
		t.Skip("the child process of TestCronInstances")
	}
	off, _ := time.ParseDuration(os.Getenv("APEX_CRON_OFFSET"))
	c := redisClient(t)
	b, err := redisstream.New(c, redisstream.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := queue.New(queue.Params{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	s, err := queue.NewScheduler(queue.SchedulerParams{Client: jobs, Ticks: queue.RedisTicks(c, prefix),
		Schedules: []queue.Schedule{queue.Every("beat", time.Second, "beat", nil)},
		Now:       func() time.Time { return time.Now().Add(off) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Minute) // killed long before
}

// Three app instances (processes) on one Redis run a schedule every
// second for about 10 s: each tick is one job, with no gap; the same
// with one clock 300 ms ahead and another 300 ms behind, and with one
// instance SIGKILLed midway.
func TestCronInstances(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		offsets []string
		kill    bool
	}{
		"same clocks":      {offsets: []string{"0s", "0s", "0s"}},
		"skewed 300ms":     {offsets: []string{"0s", "300ms", "-300ms"}},
		"one killed at 5s": {offsets: []string{"0s", "0s", "0s"}, kill: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := redisClient(t)
			prefix := testPrefix(t, c)
			var procs []*exec.Cmd
			var exited []chan struct{}
			var mu sync.Mutex
			var logs bytes.Buffer
			for _, off := range tc.offsets {
				cmd := exec.Command(os.Args[0], "-test.run=^TestCronChildProcess$", "-test.count=1")
				cmd.Env = append(os.Environ(), "APEX_CRON_PREFIX="+prefix, "APEX_CRON_OFFSET="+off)
				w := &lockedWriter{mu: &mu, w: &logs}
				cmd.Stdout, cmd.Stderr = w, w
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				procs = append(procs, cmd)
				done := make(chan struct{})
				go func() { _ = cmd.Wait(); close(done) }()
				exited = append(exited, done)
			}
			kill := func(i int) { _ = procs[i].Process.Signal(syscall.SIGKILL); <-exited[i] }
			t.Cleanup(func() {
				for i := range procs {
					kill(i)
				}
			})
			time.Sleep(5 * time.Second)
			if tc.kill {
				kill(0)
			}
			time.Sleep(6 * time.Second)
			for i := range procs {
				select {
				case <-exited[i]:
					if i != 0 || !tc.kill {
						mu.Lock()
						out := logs.String()
						mu.Unlock()
						t.Fatalf("instance %d exited early:\n%s", i, out)
					}
				default:
					kill(i)
				}
			}
			tag := "{" + prefix + queue.DefaultQueue + "}"
			var ticks []int64
			for _, k := range scanKeys(t, c, tag+":j:*") {
				name, tick, ok := queue.TickOf(k[len(tag)+3:])
				if !ok || name != "beat" {
					t.Fatalf("unexpected job key %s", k)
				}
				ticks = append(ticks, tick.Unix())
			}
			slices.Sort(ticks)
			n, err := c.Do(context.Background(), c.B().Xlen().Key(tag+":s:2").Build()).AsInt64()
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(ticks) < 8 || int64(len(ticks)) != n {
				t.Fatalf("%d job records, %d stream entries; want one per tick over ~10 s\n%s", len(ticks), n, logs.String())
			}
			for i := 1; i < len(ticks); i++ {
				if ticks[i] != ticks[i-1]+1 {
					t.Fatalf("ticks %v: a gap after %d", ticks, ticks[i-1])
				}
			}
			t.Logf("%d ticks, %d jobs, %d stream entries", ticks[len(ticks)-1]-ticks[0]+1, len(ticks), n)
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
