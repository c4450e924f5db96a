// Package logonly is the fallback [port.Alerter], for development and for
// services without a webhook: it writes each alert as a log line. The
// entry that raised an alert is already in the log, so a single alert is
// written at DEBUG; a folded one (count > 1), which says how often an
// error repeated, at WARN.
package logonly

import (
	"context"

	"go.uber.org/zap"

	"github.com/apexgo/apex/observe/port"
)

// Alerter logs alerts.
type Alerter struct{ log *zap.Logger }

var _ port.Alerter = (*Alerter)(nil)

// New returns an Alerter writing to log. log must not itself raise alerts
// (observe passes its logger without the alert hook), or each alert would
// raise another.
func New(log *zap.Logger) *Alerter { return &Alerter{log: log} }

// Alert implements [port.Alerter]. It never fails.
func (l *Alerter) Alert(ctx context.Context, a port.Alert) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	level := zap.DebugLevel
	if a.Count > 1 {
		level = zap.WarnLevel
	}
	l.log.Log(level, "alert",
		zap.String("alert_service", a.Service),
		zap.String("alert_env", a.Env),
		zap.String("alert_level", a.Level),
		zap.String("alert_message", a.Message),
		zap.String("alert_error", a.Error),
		zap.String("alert_request_id", a.RequestID),
		zap.String("alert_trace_id", a.TraceID),
		zap.Time("alert_time", a.Time),
		zap.Int("alert_count", a.Count),
	)
	return nil
}
