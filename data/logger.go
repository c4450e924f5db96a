package data

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	gormlogger "gorm.io/gorm/logger"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/observe"
)

// zapLogger is gorm's logger on zap: statements slower than slow at WARN
// with the SQL (placeholders, never the values) and the duration; failed
// statements at ERROR, except not-found (normal), constraint violations
// (answered 409, at WARN) and cancellations (the caller left).
type zapLogger struct {
	log  *zap.Logger
	slow time.Duration
}

func newLogger(log *zap.Logger, name string, slow time.Duration) gormlogger.Interface {
	return &zapLogger{log: log.Named("data").With(zap.String("database", name)), slow: slow}
}

func (l *zapLogger) LogMode(gormlogger.LogLevel) gormlogger.Interface { return l }

func (l *zapLogger) Info(ctx context.Context, msg string, args ...any) {
	l.log.Debug(fmt.Sprintf(msg, args...), l.ctxFields(ctx)...)
}

func (l *zapLogger) Warn(ctx context.Context, msg string, args ...any) {
	l.log.Warn(fmt.Sprintf(msg, args...), l.ctxFields(ctx)...)
}

func (l *zapLogger) Error(ctx context.Context, msg string, args ...any) {
	l.log.Error(fmt.Sprintf(msg, args...), l.ctxFields(ctx)...)
}

// ParamsFilter implements gorm.ParamsFilter: values never reach the logs.
func (l *zapLogger) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}

func (l *zapLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	switch {
	case err != nil:
		if errors.Is(err, ErrNotFound) || errors.Is(err, context.Canceled) {
			return
		}
		sql, rows := fc()
		fields := append(l.ctxFields(ctx), zap.Error(err), zap.String("sql", sql), zap.Duration("duration", elapsed), zap.Int64("rows", rows))
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrForeignKey) || errors.Is(err, ErrRetryable) {
			l.log.Warn("query failed", fields...)
			return
		}
		l.log.Error("query failed", fields...)
	case l.slow > 0 && elapsed > l.slow:
		sql, rows := fc()
		l.log.Warn("slow query", append(l.ctxFields(ctx), zap.String("sql", sql), zap.Duration("duration", elapsed),
			zap.Duration("threshold", l.slow), zap.Int64("rows", rows))...)
	}
}

func (l *zapLogger) ctxFields(ctx context.Context) []zap.Field {
	fields := make([]zap.Field, 0, 8)
	if ctx == nil {
		return fields
	}
	if id := observe.RequestID(ctx); id != "" {
		fields = append(fields, zap.String("request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		fields = append(fields, zap.String("trace_id", sc.TraceID().String()))
	}
	if id, ok := app.Tenant(ctx); ok {
		fields = append(fields, zap.String("tenant", id))
	}
	return fields
}
