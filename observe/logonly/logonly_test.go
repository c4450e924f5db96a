package logonly_test

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/apexgo/apex/observe/logonly"
	"github.com/apexgo/apex/observe/observetest"
	"github.com/apexgo/apex/observe/port"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	// The log never refuses: Features.Refuses stays false.
	observetest.Run(t, observetest.Features{}, func(t *testing.T, _ bool) observetest.Harness {
		core, logs := observer.New(zapcore.DebugLevel)
		return observetest.Harness{
			Alerter: logonly.New(zap.New(core)),
			Received: func() []port.Alert {
				var out []port.Alert
				for _, e := range logs.All() {
					if e.Message != "alert" || e.Level != wantLevel(e.ContextMap()["alert_count"].(int64)) {
						continue
					}
					m := e.ContextMap()
					out = append(out, port.Alert{
						Service:   m["alert_service"].(string),
						Env:       m["alert_env"].(string),
						Level:     m["alert_level"].(string),
						Message:   m["alert_message"].(string),
						Error:     m["alert_error"].(string),
						RequestID: m["alert_request_id"].(string),
						TraceID:   m["alert_trace_id"].(string),
						Time:      m["alert_time"].(time.Time),
						Count:     int(m["alert_count"].(int64)),
					})
				}
				return out
			},
		}
	})
}

func wantLevel(count int64) zapcore.Level {
	if count > 1 {
		return zapcore.WarnLevel
	}
	return zapcore.DebugLevel
}
