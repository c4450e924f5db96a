package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/apexgo/apex/observe"
)

// maxRequestIDLen bounds a client-sent request ID that is kept.
const maxRequestIDLen = 64

// RequestID keeps a client's request ID when it is sane (1 to 64 printable
// ASCII characters, no spaces) and generates one otherwise; it echoes the
// ID in the response and puts it, and log, in the request context for
// [observe.Logger] and [observe.RequestID].
func RequestID(header string, log *zap.Logger) echo.MiddlewareFunc {
	header = http.CanonicalHeaderKey(header)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			id := req.Header.Get(header)
			if !SaneRequestID(id) {
				id = newRequestID()
			}
			c.Response().Header()[header] = []string{id}
			c.SetRequest(req.WithContext(observe.ContextWith(req.Context(), log, id)))
			return next(c)
		}
	}
}

// SaneRequestID reports whether a client-sent request ID may be kept.
func SaneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	return hex.EncodeToString(b[:])
}

// commit writes err's response now, so that middleware further out sees
// the final status; the error handler ignores an already-committed error.
func commit(c echo.Context, err error) {
	if err != nil && !c.Response().Committed {
		c.Error(err)
	}
}

// errPanic marks a recovered panic; the client sees a plain 500.
var errPanic = errors.New("httpx: handler panicked")

// Recover turns a panic into a 500 problem (without internals) and logs it
// at ERROR with its stack, which raises an alert. http.ErrAbortHandler is
// re-panicked, as net/http expects.
func Recover(log *zap.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				observe.LogPanic(observe.Logger(c.Request().Context()).With(zap.String("route", c.Path())), "HTTP handler", v)
				p := NewProblem(http.StatusInternalServerError, "an internal error occurred")
				p.Err = fmt.Errorf("%w: %v", errPanic, v)
				err = p
			}()
			return next(c)
		}
	}
}

// AccessLog writes one INFO line per request: method, route, path, status,
// bytes, latency, request_id and trace_id. Headers (so Authorization and
// cookies) and query strings are never logged.
func AccessLog(log *zap.Logger, skip []string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if slices.Contains(skip, req.URL.Path) {
				return next(c)
			}
			start := time.Now()
			panicked := true
			defer func() {
				if panicked {
					// Log the request the panic ends, then let Recover handle it.
					writeAccess(log, c, start, http.StatusInternalServerError)
				}
			}()
			err := next(c)
			panicked = false
			commit(c, err)
			writeAccess(log, c, start, c.Response().Status)
			return err
		}
	}
}

func writeAccess(log *zap.Logger, c echo.Context, start time.Time, status int) {
	req := c.Request()
	ce := log.Check(zap.InfoLevel, "request")
	if ce == nil {
		return
	}
	fields := make([]zap.Field, 0, 9)
	fields = append(fields,
		zap.String("method", req.Method),
		zap.String("route", c.Path()),
		zap.String("path", req.URL.Path),
		zap.Int("status", status),
		zap.Int64("bytes", c.Response().Size),
		zap.Duration("latency", time.Since(start)),
		zap.String("request_id", observe.RequestID(req.Context())),
	)
	sc := trace.SpanContextFromContext(req.Context())
	if kept, ok := c.Get(spanContextKey).(trace.SpanContext); ok {
		sc = kept
	}
	if sc.IsValid() {
		fields = append(fields, zap.String("trace_id", sc.TraceID().String()))
	}
	ce.Write(fields...)
}

// Metrics is the HTTP metrics middleware: http_requests_total and
// http_request_duration_seconds, labelled by method, route template and
// status. Unmatched routes share one label value so that scanning bots
// cannot grow the series count.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the HTTP metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "HTTP requests served.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "HTTP request latency.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("httpx: register metrics: %w", err)
		}
	}
	return m, nil
}

// Middleware returns the echo middleware.
func (m *Metrics) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			commit(c, err)
			route := c.Path()
			if route == "" {
				route = "<unmatched>"
			}
			method, status := methodLabel(c.Request().Method), statusLabel(c.Response().Status)
			m.requests.WithLabelValues(method, route, status).Inc()
			m.duration.WithLabelValues(method, route, status).Observe(time.Since(start).Seconds())
			return err
		}
	}
}

// statusLabels holds the label of every valid status code, so that the
// hot path does not format one.
var statusLabels = func() (s [600]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusLabel(code int) string {
	if code >= 0 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// Timeout gives each request's context a deadline; a handler error after
// the deadline becomes [ErrRequestTimeout] (a 503 problem).
func Timeout(d time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			ctx, cancel := context.WithTimeout(req.Context(), d)
			defer cancel()
			c.SetRequest(req.WithContext(ctx))
			err := next(c)
			if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && !c.Response().Committed {
				return fmt.Errorf("%w: %w", ErrRequestTimeout, err)
			}
			return err
		}
	}
}
