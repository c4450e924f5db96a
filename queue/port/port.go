// Package port defines the queue module's storage port, [Queue], with its
// sentinel errors and the value types of its methods. It is a leaf
// package (standard library only) so that the backends (queue/memory,
// queue/redisstream, a user's own) and the queue module can share it;
// package queue re-exports every name, and user code should import queue.
package port

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors, for use with errors.Is.
var (
	// ErrNotFound is returned by Status and Cancel for an unknown or
	// expired job ID.
	ErrNotFound = errors.New("queue: job not found")
	// ErrFull is returned by Enqueue when a bounded backend has no room:
	// the job is not stored. Enqueue never blocks waiting for room.
	ErrFull = errors.New("queue: queue is full")
	// ErrFinished is returned by Cancel for a job that already reached a
	// terminal state (succeeded, failed, dead or canceled).
	ErrFinished = errors.New("queue: job already finished")
	// ErrClosed is returned by every method once the backend is closed.
	ErrClosed = errors.New("queue: backend closed")
)

// State is a job's place in its lifecycle.
type State string

// The states of a job. Pending, Scheduled, Running and Retrying are live;
// the others are terminal.
const (
	Pending   State = "pending"   // waiting for a worker
	Scheduled State = "scheduled" // waiting for its run time
	Running   State = "running"   // a worker holds it
	Retrying  State = "retrying"  // an attempt failed; waiting for the next
	Succeeded State = "succeeded" // the handler returned nil
	Failed    State = "failed"    // a permanent error: no retry
	Dead      State = "dead"      // attempts exhausted or undecodable: in the dead letters
	Canceled  State = "canceled"  // Cancel was called before it finished
)

// Terminal reports whether s is a final state.
func (s State) Terminal() bool {
	return s == Succeeded || s == Failed || s == Dead || s == Canceled
}

// Priority orders jobs within one queue: a worker takes jobs of every
// priority, higher ones more often (weighted, so that lower ones are
// never starved).
type Priority int

// The priorities.
const (
	Low    Priority = 1
	Normal Priority = 2
	High   Priority = 3
)

// Message is a job as a backend stores it. The caller of Enqueue fills
// every field it needs; backends keep the message whole and give it back
// on delivery.
type Message struct {
	// ID identifies the job. Enqueue stores a message whose ID is already
	// known as a duplicate and returns that job's ID instead, so a
	// deterministic ID makes a re-send harmless.
	ID string
	// Kind names the handler, e.g. "email.send".
	Kind string
	// Queue is the queue's name.
	Queue string
	// Payload is the encoded payload (JSON by default).
	Payload []byte
	// Priority within the queue; 0 is Normal.
	Priority Priority
	// MaxAttempts bounds deliveries; a delivery beyond it sends the job
	// to the dead letters.
	MaxAttempts int
	// Timeout bounds one attempt; 0 is the worker's default.
	Timeout time.Duration
	// RunAt delays the first attempt; zero or past: now.
	RunAt time.Time
	// UniqueKey, when set, makes Enqueue return the live job that holds
	// the same key in the same queue instead of storing a second one. The
	// key is held until that job reaches a terminal state or UniqueFor
	// has passed since it was enqueued, whichever comes first.
	UniqueKey string
	UniqueFor time.Duration
	// Meta carries the enqueuer's context: request ID, tenant, subject,
	// trace context. Small string values only.
	Meta map[string]string
	// EnqueuedAt is when Enqueue was called.
	EnqueuedAt time.Time
}

// Enqueued is the outcome of enqueuing one [Message].
type Enqueued struct {
	// ID is the stored job's ID: the message's own, or the existing
	// job's when Duplicate.
	ID string
	// Duplicate reports that no new job was stored because a job with
	// the same ID or unique key exists.
	Duplicate bool
	// Err is this message's own failure within a batch (ErrFull...).
	Err error
}

// Status is a job's status record.
type Status struct {
	ID, Kind, Queue string
	State           State
	Priority        Priority
	// Attempts counts deliveries so far; MaxAttempts bounds them.
	Attempts, MaxAttempts int
	// LastError is the last failed attempt's error.
	LastError string
	// Result is the handler's small result (JSON), when it set one.
	Result []byte
	// Progress is 0-100 with Message, as the handler last reported.
	Progress int
	Message  string
	// Subject and Tenant are who enqueued the job ("" when unknown).
	Subject, Tenant string
	// Timestamps; zero when not reached yet.
	EnqueuedAt, RunAt, StartedAt, FinishedAt, UpdatedAt time.Time
}

// FetchParams asks for jobs.
type FetchParams struct {
	// Queue is the queue to take from.
	Queue string
	// Max is the most deliveries to return, ≥ 1.
	Max int
	// Wait is how long to wait when nothing is ready; 0 returns at once.
	Wait time.Duration
	// Kinds are the kinds this worker handles. A job of another kind is
	// never dropped nor counted as an attempt: it is put back for a
	// worker that handles it (after a short delay, so that workers that
	// do not know it do not spin on it).
	Kinds []string
}

// Delivery is one job handed to a worker: the message and the attempt it
// starts (1 for the first).
type Delivery struct {
	Message Message
	Attempt int
	// Token identifies this delivery to Settle (a stream entry ID...).
	Token string
}

// Outcome is how an attempt ended.
type Outcome int

// The outcomes of [Settlement].
const (
	// Succeed: done; the record keeps Result and expires after the status TTL.
	Succeed Outcome = iota + 1
	// Retry: run again at RunAt; the state becomes retrying.
	Retry
	// Fail: a permanent error; the job is failed and kept in the dead letters.
	Fail
	// Bury: attempts exhausted or undecodable; the job is dead and kept in the dead letters.
	Bury
	// Abandon: the worker stops without finishing; nothing is acknowledged
	// and the job goes to another worker (at once, or once its lease ends).
	Abandon
)

// Settlement ends one delivery.
type Settlement struct {
	Delivery Delivery
	Outcome  Outcome
	// Error is the attempt's error (Retry, Fail, Bury).
	Error string
	// Result is the handler's small result (Succeed).
	Result []byte
	// RunAt is the next attempt's time (Retry).
	RunAt time.Time
}

// Queue is the storage of background jobs: it stores messages, hands
// them to workers at least once, records their status and keeps the
// ones that failed for good (the dead letters, see [DeadLetters]).
//
// Every method is safe for concurrent use, honours ctx (returning its
// error once it ends, except Fetch, which returns what it has) and
// returns [ErrClosed] after Close. Errors of the store itself (Redis
// unreachable) are returned wrapped.
type Queue interface {
	// Enqueue stores msgs, in order, and returns one Enqueued per message.
	// Each message is stored at most once: a known ID or held unique key
	// yields Duplicate with the existing job's ID. A bounded backend
	// reports ErrFull in Enqueued.Err for the messages it has no room
	// for. The returned error is for the call as a whole (the store is
	// down); the results are then nil. Backends batch the writes into
	// as few round trips as they can.
	Enqueue(ctx context.Context, msgs []Message) ([]Enqueued, error)
	// Fetch returns up to p.Max jobs of p.Queue that are due, waiting up
	// to p.Wait for the first. Each delivery is an attempt: the record
	// becomes running and its attempts grow by one; a job whose
	// deliveries exceed MaxAttempts is buried instead of delivered. A
	// delivery stays the caller's until settled; the backend keeps it
	// alive while this process runs (heartbeats) and gives it to another
	// worker if the process dies.
	Fetch(ctx context.Context, p FetchParams) ([]Delivery, error)
	// Settle records how deliveries ended and acknowledges them, in one
	// round trip. A job canceled while running stays canceled whatever
	// the outcome.
	Settle(ctx context.Context, s []Settlement) error
	// Status returns a job's record, or ErrNotFound.
	Status(ctx context.Context, id string) (Status, error)
	// Cancel stops a job that has not finished: a waiting job never
	// runs; a running job's outcome is discarded. It returns the record
	// after the change, ErrNotFound, or ErrFinished for a finished job.
	Cancel(ctx context.Context, id string) (Status, error)
}

// Progressor is a [Queue] that records progress and a partial result
// while a job runs.
type Progressor interface {
	// Progress sets a running job's progress (0-100) and message. It
	// returns ErrNotFound for an unknown job.
	Progress(ctx context.Context, id string, percent int, message string) error
}

// DeadLetters is a [Queue] that lets an operator inspect, replay and
// purge failed and dead jobs.
type DeadLetters interface {
	// Dead lists up to limit failed or dead jobs of queue, newest first,
	// skipping offset.
	Dead(ctx context.Context, queue string, offset, limit int) ([]Status, error)
	// Replay puts dead jobs of queue back as new pending attempts (their
	// attempts start again from zero); no ids means all. It returns how
	// many were replayed.
	Replay(ctx context.Context, queue string, ids ...string) (int, error)
	// Purge deletes dead jobs of queue; no ids means all. It returns
	// how many were deleted.
	Purge(ctx context.Context, queue string, ids ...string) (int, error)
}

// Stats are a queue's sizes.
type Stats struct {
	// Ready counts jobs waiting for a worker; Scheduled those waiting for
	// their time (delayed and retrying); Running those a worker holds;
	// Dead those in the dead letters.
	Ready, Scheduled, Running, Dead int64
}

// Inspector is a [Queue] that reports its sizes (for metrics).
type Inspector interface {
	// Stats returns queue's sizes.
	Stats(ctx context.Context, queue string) (Stats, error)
}

// Pinger is a [Queue] whose store can be unreachable (readiness).
type Pinger interface {
	// Ping returns nil when the store answers.
	Ping(ctx context.Context) error
}

// Closer is a [Queue] holding resources: Close stops its background
// work (heartbeats) and leaves unsettled deliveries to be reclaimed.
type Closer interface {
	Close() error
}

// Defaults that every backend shares, written once.
const (
	// DefaultStatusTTL is how long the record of a succeeded or canceled
	// job is kept.
	DefaultStatusTTL = 24 * time.Hour
	// DefaultDeadRetention is how long failed and dead jobs stay in the
	// dead letters.
	DefaultDeadRetention = 7 * 24 * time.Hour
	// DefaultReleaseDelay is how long a job of a kind the fetching worker
	// does not handle waits before it is offered again.
	DefaultReleaseDelay = time.Second
)

// Weights are the shares of the priorities when a worker takes jobs of
// several: out of 10 jobs, 6 High, 3 Normal and 1 Low while all three
// have jobs waiting.
var Weights = [...]int{Low: 1, Normal: 3, High: 6}
