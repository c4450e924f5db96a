package observe

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

type ctxKey struct{}

// scope is what a context carries for observe.
type scope struct {
	log       *zap.Logger
	requestID string
}

// scopeCtx carries a scope: one allocation per request, where
// context.WithValue would take two (the context and the boxed value).
type scopeCtx struct {
	context.Context
	scope scope
}

func (c *scopeCtx) Value(key any) any {
	if key == (ctxKey{}) {
		return &c.scope
	}
	return c.Context.Value(key)
}

func (c *scopeCtx) String() string { return "observe.scope" }

func scopeOf(ctx context.Context) scope {
	if s, ok := ctx.Value(ctxKey{}).(*scope); ok {
		return *s
	}
	return scope{}
}

// ContextWith returns ctx carrying log and a request ID, for [Logger] and
// [RequestID] to find; httpx calls it once per request.
func ContextWith(ctx context.Context, log *zap.Logger, requestID string) context.Context {
	return &scopeCtx{Context: ctx, scope: scope{log: log, requestID: requestID}}
}

// ContextWithLogger returns ctx carrying log, keeping its request ID.
func ContextWithLogger(ctx context.Context, log *zap.Logger) context.Context {
	return ContextWith(ctx, log, scopeOf(ctx).requestID)
}

// ContextWithRequestID returns ctx carrying a request ID, keeping its logger.
func ContextWithRequestID(ctx context.Context, id string) context.Context {
	return ContextWith(ctx, scopeOf(ctx).log, id)
}

// RequestID returns the request ID carried by ctx, or "".
func RequestID(ctx context.Context) string { return scopeOf(ctx).requestID }

// Logger returns the logger carried by ctx (zap.L() if none) with the
// request_id, trace_id and span_id of ctx added, those that are set.
func Logger(ctx context.Context) *zap.Logger {
	s := scopeOf(ctx)
	log := s.log
	if log == nil {
		log = zap.L()
	}
	fields := make([]zap.Field, 0, 3)
	if s.requestID != "" {
		fields = append(fields, zap.String("request_id", s.requestID))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		fields = append(fields, zap.String("trace_id", sc.TraceID().String()), zap.String("span_id", sc.SpanID().String()))
	}
	if len(fields) == 0 {
		return log
	}
	return log.With(fields...)
}
