package observe

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

type ctxKey int

const (
	loggerKey ctxKey = iota
	requestIDKey
)

// ContextWithLogger returns ctx carrying log, for [Logger] to find.
// httpx puts the app's logger in every request's context.
func ContextWithLogger(ctx context.Context, log *zap.Logger) context.Context {
	return context.WithValue(ctx, loggerKey, log)
}

// ContextWithRequestID returns ctx carrying a request ID.
func ContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request ID carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// Logger returns the logger carried by ctx (zap.L() if none) with the
// request_id, trace_id and span_id of ctx added, those that are set.
func Logger(ctx context.Context) *zap.Logger {
	log, ok := ctx.Value(loggerKey).(*zap.Logger)
	if !ok {
		log = zap.L()
	}
	fields := make([]zap.Field, 0, 3)
	if id := RequestID(ctx); id != "" {
		fields = append(fields, zap.String("request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		fields = append(fields, zap.String("trace_id", sc.TraceID().String()), zap.String("span_id", sc.SpanID().String()))
	}
	if len(fields) == 0 {
		return log
	}
	return log.With(fields...)
}
