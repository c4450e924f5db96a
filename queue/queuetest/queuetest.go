// Package queuetest is the conformance suite of the queue port: [Run]
// checks that a backend honours the [queue.Queue] contract as the queue
// module uses it (enqueue and run, delays, priorities, retries,
// permanent errors, panics, poison payloads, unique keys, cancel, status
// transitions and events, dead letters, graceful stop). Every backend in
// apex runs it, and so can a user's own:
//
//	func TestMyBackend(t *testing.T) {
//		queuetest.Run(t, queuetest.Features{Durable: true, Shared: true}, func(t *testing.T, prefix string) queue.Queue {
//			return mybackend.New(..., prefix)
//		})
//	}
//
// Each behaviour is also exported (TestDelay, ...) to run alone. The
// subtests run in parallel; each makes its own isolation: a unique key
// prefix passed to newBackend and unique queue names.
package queuetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/port"
)

// Features says what a backend can do.
type Features struct {
	// Durable: jobs survive a restart of the process (not checked here:
	// the Redis backend's crash tests do).
	Durable bool
	// Shared: several backend instances on one prefix share the jobs, as
	// processes on one Redis do.
	Shared bool
}

// NewBackend returns a backend whose keys start with prefix; calls with
// the same prefix must share jobs when Features.Shared. It should close
// the backend with t.Cleanup.
type NewBackend func(t *testing.T, prefix string) port.Queue

// Run runs every behaviour.
func Run(t *testing.T, f Features, newBackend NewBackend) {
	for _, b := range []struct {
		name string
		fn   func(*testing.T, Features, NewBackend)
	}{
		{"EnqueueRun", TestEnqueueRun},
		{"Batch", TestBatch},
		{"Delay", TestDelay},
		{"Priority", TestPriority},
		{"Retry", TestRetry},
		{"Permanent", TestPermanent},
		{"Panic", TestPanic},
		{"Poison", TestPoison},
		{"Exhausted", TestExhausted},
		{"Unique", TestUnique},
		{"DuplicateID", TestDuplicateID},
		{"Cancel", TestCancel},
		{"Status", TestStatus},
		{"Events", TestEvents},
		{"DeadLetters", TestDeadLetters},
		{"UnknownKind", TestUnknownKind},
		{"GracefulStop", TestGracefulStop},
		{"ReadAhead", TestReadAhead},
		{"Shared", TestShared},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			b.fn(t, f, newBackend)
		})
	}
}

// Prefix returns a unique key prefix for one test.
func Prefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "apextest:" + hex.EncodeToString(b[:]) + ":"
}

// QueueName returns a unique queue name.
func QueueName() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "q" + hex.EncodeToString(b[:])
}

// env is one test's backend, client and recorded events.
type env struct {
	t      *testing.T
	prefix string
	queue  string
	b      port.Queue
	c      *queue.Client
	sink   *sink
}

// setup returns a client over a fresh backend for one queue, with fast
// polling and backoff; register handlers on e.c.Worker() and call start.
func setup(t *testing.T, newBackend NewBackend, concurrency int) *env {
	t.Helper()
	prefix := Prefix()
	return setupOn(t, newBackend(t, prefix), prefix, QueueName(), concurrency)
}

func setupOn(t *testing.T, b port.Queue, prefix, q string, concurrency int) *env {
	t.Helper()
	s := &sink{}
	c, err := queue.New(queue.Params{Backend: b, Sinks: []app.JobEventSink{s}, Config: queue.Config{
		Queues:  map[string]queue.QueueConfig{q: {Concurrency: concurrency}, queue.DefaultQueue: {}},
		Poll:    100 * time.Millisecond,
		Backoff: queue.BackoffConfig{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, prefix: prefix, queue: q, b: b, c: c, sink: s}
}

func (e *env) start() {
	e.t.Helper()
	if err := e.c.Worker().Start(); err != nil {
		e.t.Fatalf("Worker.Start: %v", err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.c.Worker().Stop(ctx)
	})
}

func (e *env) enqueue(kind string, payload any, opts ...queue.Option) string {
	e.t.Helper()
	id, err := e.c.Enqueue(e.t.Context(), kind, payload, append([]queue.Option{queue.On(e.queue)}, opts...)...)
	if err != nil {
		e.t.Fatalf("Enqueue %s: %v", kind, err)
	}
	return id
}

// wait polls the job's status until ok or a timeout.
func (e *env) wait(id string, timeout time.Duration, ok func(queue.Status) bool) queue.Status {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var st queue.Status
	var err error
	for time.Now().Before(deadline) {
		st, err = e.c.Status(e.t.Context(), id)
		if err == nil && ok(st) {
			return st
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("job %s: after %v status is %+v (err %v)", id, timeout, st, err)
	return st
}

func (e *env) waitState(id string, s queue.State) queue.Status {
	e.t.Helper()
	return e.wait(id, 10*time.Second, func(st queue.Status) bool { return st.State == s })
}

// sink records job events.
type sink struct {
	mu     sync.Mutex
	events []app.JobEvent
}

func (s *sink) JobEvent(_ context.Context, e app.JobEvent) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}

// of returns the statuses of id's events, in order.
func (s *sink) of(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.events {
		if e.ID == id {
			out = append(out, e.Status)
		}
	}
	return out
}

// Payload is the suite's job payload.
type Payload struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

func eventually(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: not after %v", what, timeout)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var _ = fmt.Sprint
