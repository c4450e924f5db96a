// Package queue is apex's background jobs: a job kind is a name, a JSON
// payload type and a handler; jobs are enqueued from anywhere in the app,
// run at least once by workers in this or another process, retried with
// exponential backoff, and end up succeeded, failed, dead (in the dead
// letters, for inspection and replay) or canceled. Every job has a
// status record that the enqueuer can read ([Client.Status], GET
// /jobs/{id}) and whose changes are published to app.JobEventSinks.
//
//	queue.Handle(w, "email.send", func(ctx context.Context, j queue.Job[Email]) error {
//		return send(ctx, j.Payload)
//	})
//	id, err := jobs.Enqueue(ctx, "email.send", Email{To: "a@example.com"}, queue.Delay(time.Minute))
//
// The storage is the port [Queue], with a Redis Streams backend
// (queue/redisstream, on the process's rueidis client) and an in-process
// fallback (queue/memory); [Module] picks one from config. The port types
// are defined in the leaf package queue/port; the names here are aliases.
package queue

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"regexp"
	"time"

	"go.uber.org/zap"

	"github.com/apexgo/apex/queue/port"
)

// Queue is the storage port of jobs; see [port.Queue] for the contract.
type Queue = port.Queue

// Message is a job as a backend stores it; see [port.Message].
type Message = port.Message

// Enqueued is the outcome of enqueuing one message; see [port.Enqueued].
type Enqueued = port.Enqueued

// Status is a job's status record; see [port.Status].
type Status = port.Status

// State is a job's place in its lifecycle; see [port.State].
type State = port.State

// Priority orders jobs within a queue; see [port.Priority].
type Priority = port.Priority

// The states of a job.
const (
	Pending   = port.Pending
	Scheduled = port.Scheduled
	Running   = port.Running
	Retrying  = port.Retrying
	Succeeded = port.Succeeded
	Failed    = port.Failed
	Dead      = port.Dead
	Canceled  = port.Canceled
)

// The priorities (weights 1:3:6 when all have jobs waiting).
const (
	Low    = port.Low
	Normal = port.Normal
	High   = port.High
)

// Sentinel errors, for use with errors.Is.
var (
	// ErrNotFound: no job has this ID (or its record expired).
	ErrNotFound = port.ErrNotFound
	// ErrFull: a bounded backend has no room; the job was not stored.
	ErrFull = port.ErrFull
	// ErrFinished: Cancel of a job that already finished.
	ErrFinished = port.ErrFinished
	// ErrClosed: the backend was closed.
	ErrClosed = port.ErrClosed
	// ErrDuplicate is returned by Enqueue, with the existing job's ID,
	// when a live job holds the same unique key or ID: no new job was
	// stored.
	ErrDuplicate = errors.New("queue: duplicate job")
)

// DefaultQueue is the queue of jobs enqueued without [On] whose kind has
// no queue of its own.
const DefaultQueue = "default"

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// validQueue reports whether name can name a queue: lower-case letters,
// digits, - and _, up to 64, so that it fits in keys and job IDs.
func validQueue(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("queue: invalid queue name %q: use 1-64 of a-z, 0-9, - and _", name)
	}
	return nil
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a new unguessable job ID on queue: the queue's name, a
// dot and 128 random bits (26 base32 characters). The queue is part of
// the ID so that a backend finds the job's keys from its ID alone.
func NewID(queue string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return queue + "." + idEncoding.EncodeToString(b[:])
}

// QueueOf returns the queue named in a job ID, "" for a malformed ID.
func QueueOf(id string) string {
	for i := 0; i < len(id); i++ {
		if id[i] == '.' {
			if validQueue(id[:i]) != nil || i == len(id)-1 {
				return ""
			}
			return id[:i]
		}
	}
	return ""
}

// Permanent wraps err so that the worker does not retry the job: it
// ends failed at once and goes to the dead letters. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (p *permanentError) Error() string { return "permanent: " + p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// IsPermanent reports whether err was made with [Permanent].
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Job is one attempt of a job, as a handler sees it.
type Job[T any] struct {
	// ID, Kind and Queue identify the job.
	ID, Kind, Queue string
	// Payload is the decoded payload.
	Payload T
	// Attempt is this attempt, from 1; MaxAttempts bounds them.
	Attempt, MaxAttempts int
	// EnqueuedAt is when the job was enqueued.
	EnqueuedAt time.Time
	// RequestID, Subject and Tenant are those of the enqueuing request,
	// "" when unknown. ctx carries them too (observe.RequestID,
	// app.Tenant).
	RequestID, Subject, Tenant string
	// Log has job_id, kind, attempt, request_id and the trace IDs.
	Log *zap.Logger

	run *attempt
}

// Progress records the job's progress (0-100, clamped) and a message in
// its status record, and publishes a "progress" event.
func (j Job[T]) Progress(ctx context.Context, percent int, message string) error {
	if j.run == nil {
		return errors.New("queue: Progress outside a worker")
	}
	return j.run.progress(ctx, percent, message)
}

// SetResult stores v (JSON-encoded, at most queue.result_max_bytes) as
// the job's result, recorded when the handler returns nil.
func (j Job[T]) SetResult(v any) error {
	if j.run == nil {
		return errors.New("queue: SetResult outside a worker")
	}
	return j.run.setResult(v)
}

// Option sets how a job is enqueued or, given to [Handle], the defaults
// of its kind.
type Option func(*options)

type options struct {
	queue       string
	delay       time.Duration
	runAt       time.Time
	maxAttempts int
	timeout     time.Duration
	priority    Priority
	uniqueKey   string
	uniqueFor   time.Duration
	id          string
	subject     *string
	backoff     func(attempt int) time.Duration
}

// On puts the job on the named queue; given to Handle, it is the kind's
// queue, which its jobs use unless enqueued with another.
func On(queue string) Option { return func(o *options) { o.queue = queue } }

// Delay runs the job no sooner than d from now.
func Delay(d time.Duration) Option { return func(o *options) { o.delay = d } }

// At runs the job no sooner than t.
func At(t time.Time) Option { return func(o *options) { o.runAt = t } }

// MaxAttempts bounds the attempts (at least 1; default queue.max_attempts).
func MaxAttempts(n int) Option { return func(o *options) { o.maxAttempts = n } }

// Timeout bounds each attempt: the handler's ctx ends after d (default
// queue.timeout).
func Timeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithPriority sets the job's priority within its queue (default Normal).
func WithPriority(p Priority) Option { return func(o *options) { o.priority = p } }

// Unique makes the enqueue return the existing job's ID (with
// ErrDuplicate) while a live job of the same queue holds key, for up to
// window after that job was enqueued.
func Unique(key string, window time.Duration) Option {
	return func(o *options) { o.uniqueKey, o.uniqueFor = key, window }
}

// ID gives the job a deterministic ID (it must start with the queue's
// name and a dot, see [NewID]): enqueuing it again while its record
// exists is a duplicate. Random IDs are the default and are unguessable;
// a deterministic one is only as secret as its inputs.
func ID(id string) Option { return func(o *options) { o.id = id } }

// Subject records who enqueued the job, overriding the request's
// subject (which GET /jobs/{id} compares with its caller's).
func Subject(s string) Option { return func(o *options) { o.subject = &s } }

// Backoff, given to [Handle], replaces the exponential backoff of the
// kind's retries: it returns the wait before attempt+1 after attempt
// failed.
func Backoff(f func(attempt int) time.Duration) Option {
	return func(o *options) { o.backoff = f }
}

// ExponentialBackoff returns base·2^(attempt-1), capped at max, with
// jitter: a uniformly random wait between half and all of it.
func ExponentialBackoff(base, max time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		d := base
		for i := 1; i < attempt && d < max; i++ {
			d *= 2
		}
		d = min(d, max)
		half := d / 2
		if half <= 0 {
			return d
		}
		return half + time.Duration(mrand.Int64N(int64(half)+1))
	}
}
