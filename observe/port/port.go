// Package port is the leaf that holds observe's port, the [Alerter] that
// ERROR-level log entries and recovered panics are delivered to, with its
// sentinel error and the [Alert] value it carries. It imports only the
// standard library, so that backends (observe/webhook, observe/logonly, a
// user's own) can implement it without importing observe; observe's own
// names are aliases of these.
package port

import (
	"context"
	"errors"
	"time"
)

// Alert is one critical event, or several identical ones folded together.
type Alert struct {
	// Service is the service name, from app.Info.
	Service string `json:"service"`
	// Env is the environment (APP_ENV), from app.Info.
	Env string `json:"env"`
	// Level is the zap level name: "error", "dpanic", "panic" or "fatal".
	Level string `json:"level"`
	// Message is the log message.
	Message string `json:"message"`
	// Error is the text of the entry's "error" field, or "".
	Error string `json:"error,omitempty"`
	// RequestID ties the alert to a request, or "".
	RequestID string `json:"request_id,omitempty"`
	// TraceID ties the alert to a trace, or "".
	TraceID string `json:"trace_id,omitempty"`
	// Time is when the (last folded) entry was logged.
	Time time.Time `json:"time"`
	// Count is how many identical entries this alert stands for (≥ 1).
	Count int `json:"count"`
}

// Alerter delivers alerts somewhere a person will see them. observe calls
// it from one background goroutine fed by a bounded queue, so an Alerter
// may block up to its context's deadline without slowing down logging.
// observetest.Run checks an implementation against this contract.
type Alerter interface {
	// Alert delivers a and returns nil once the destination has accepted
	// it. It is safe for concurrent use; it returns when ctx ends, with an
	// error wrapping ctx.Err(); a destination that refuses or cannot be
	// reached yields an error wrapping [ErrDelivery]; errors never include
	// secrets such as a webhook URL.
	Alert(ctx context.Context, a Alert) error
}

// ErrDelivery is wrapped by errors from an Alerter that could not deliver,
// for use with errors.Is.
var ErrDelivery = errors.New("alert: delivery failed")
