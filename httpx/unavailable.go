package httpx

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/apexgo/apex/observe"
)

// DefaultUnavailableLogInterval is how often, at most, an [Unavailable]
// logs its ERROR line while its dependency stays down.
const DefaultUnavailableLogInterval = time.Minute

// Unavailable is the one answer apex gives when a dependency (Redis, a
// tenant's database, the token store) fails a request: a 503 problem with
// Retry-After and code "unavailable", and an ERROR line at most once per
// interval rather than one per request, so that an outage does not flood
// the logs and the alerts. It is safe for concurrent use.
type Unavailable struct {
	log    *zap.Logger
	msg    string
	detail string
	every  rate.Sometimes
}

// UnavailableParams configures [NewUnavailable].
type UnavailableParams struct {
	// Log receives the throttled ERROR line. Nil: no log.
	Log *zap.Logger
	// Message is the ERROR line's message, e.g. "auth: cannot verify tokens; answering 503".
	Message string
	// Detail is the problem's detail, e.g. "authentication is unavailable; retry later".
	Detail string
	// Interval is the least time between two ERROR lines. Default
	// [DefaultUnavailableLogInterval].
	Interval time.Duration
}

// NewUnavailable returns an Unavailable for one dependency; share it
// between every middleware that answers for that dependency so that they
// log once per interval between them.
func NewUnavailable(p UnavailableParams) *Unavailable {
	if p.Log == nil {
		p.Log = zap.NewNop()
	}
	if p.Detail == "" {
		p.Detail = "a service this request needs is unavailable; retry later"
	}
	u := &Unavailable{log: p.Log, msg: p.Message, detail: p.Detail}
	if p.Interval <= 0 {
		p.Interval = DefaultUnavailableLogInterval
	}
	u.every.First, u.every.Interval = 1, p.Interval
	return u
}

// Log writes the ERROR line for err, with the request ID of ctx and the
// given fields, unless one was written less than the interval ago. Use it
// alone where the request goes on without the dependency (fail open).
func (u *Unavailable) Log(ctx context.Context, err error, fields ...zap.Field) {
	u.every.Do(func() {
		u.log.Error(u.msg, append(fields, zap.Error(err), zap.String("request_id", observe.RequestID(ctx)))...)
	})
}

// Problem logs err as [Unavailable.Log] does and returns the 503 problem
// for it; the error handler does not log it again.
func (u *Unavailable) Problem(ctx context.Context, err error, fields ...zap.Field) *Problem {
	u.Log(ctx, err, fields...)
	p := NewProblem(http.StatusServiceUnavailable, u.detail)
	p.Code = CodeUnavailable
	p.Header = http.Header{"Retry-After": {"1"}}
	p.Err, p.Reported = err, true
	return p
}
