package observe

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

type ctxKey struct{}

// Scope is what a request's context carries for observe: its logger and
// request ID. [ContextWith] wraps a context around one. A package that
// makes a context type of its own for every request (httpx fuses the
// scope with the request's deadline, one allocation per request instead
// of two) holds a Scope and answers [Scope.Lookup] first in its Value
// method; [Logger] and [RequestID] then find it there.
type Scope struct {
	log       *zap.Logger
	requestID string
}

// NewScope returns the scope of a request logged to log under requestID.
func NewScope(log *zap.Logger, requestID string) Scope {
	return Scope{log: log, requestID: requestID}
}

// Lookup returns what a context holding s answers for key: s itself
// (true) for observe's key, nothing (false) for any other key, which the
// context then looks up in its parent.
func (s *Scope) Lookup(key any) (any, bool) {
	if key == (ctxKey{}) {
		return s, true
	}
	return nil, false
}

// scopeCtx carries a scope: one allocation per request, where
// context.WithValue would take two (the context and the boxed value).
type scopeCtx struct {
	context.Context
	scope Scope
}

func (c *scopeCtx) Value(key any) any {
	if v, ok := c.scope.Lookup(key); ok {
		return v
	}
	return c.Context.Value(key)
}

func (c *scopeCtx) String() string { return "observe.scope" }

func scopeOf(ctx context.Context) Scope {
	if s, ok := ctx.Value(ctxKey{}).(*Scope); ok {
		return *s
	}
	return Scope{}
}

// ContextWith returns ctx carrying log and a request ID, for [Logger] and
// [RequestID] to find; httpx calls it once per request.
func ContextWith(ctx context.Context, log *zap.Logger, requestID string) context.Context {
	return &scopeCtx{Context: ctx, scope: Scope{log: log, requestID: requestID}}
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
