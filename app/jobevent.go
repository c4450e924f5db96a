package app

import (
	"context"
	"time"

	"go.uber.org/fx"
)

// JobEvent is a change in a background job's status. The queue module
// publishes one to every [JobEventSink] in the container when a job
// starts, reports progress, succeeds, fails, retries, goes dead or is
// canceled; the realtime module subscribes to push completion to the
// subject that enqueued the job. It lives here, below both modules, so
// that neither imports the other.
type JobEvent struct {
	// ID is the job's ID.
	ID string `json:"id"`
	// Kind is the job's kind, e.g. "email.send".
	Kind string `json:"kind"`
	// Queue is the queue the job ran on.
	Queue string `json:"queue"`
	// Status is the new status: "running", "retrying", "succeeded",
	// "failed", "dead", "canceled", or "progress" for a progress report.
	Status string `json:"status"`
	// Attempt is the attempt the event belongs to, from 1.
	Attempt int `json:"attempt,omitempty"`
	// Progress is 0-100 with Message for progress reports.
	Progress int    `json:"progress,omitempty"`
	Message  string `json:"message,omitempty"`
	// Error is the last attempt's error for retrying, failed and dead jobs.
	Error string `json:"error,omitempty"`
	// Subject and Tenant are who enqueued the job, "" when unknown.
	Subject string `json:"subject,omitempty"`
	Tenant  string `json:"tenant,omitempty"`
	// At is when the change happened.
	At time.Time `json:"at"`
}

// JobEventSink receives [JobEvent]s. JobEvent is called from the worker
// that made the change, synchronously, so it must return quickly and
// never block (hand the event to a bounded buffer and drop or count when
// it is full); it must be safe for concurrent use.
type JobEventSink interface {
	JobEvent(ctx context.Context, e JobEvent)
}

// JobEventSinksGroup is the fx value group of [JobEventSink]s.
const JobEventSinksGroup = "apex.job_event_sinks"

// AsJobEventSink annotates a constructor of a JobEventSink so that the
// queue module delivers job events to it:
//
//	fx.Provide(app.AsJobEventSink(newPusher))
func AsJobEventSink(f any) any {
	return fx.Annotate(f, fx.As(new(JobEventSink)), fx.ResultTags(`group:"`+JobEventSinksGroup+`"`))
}
