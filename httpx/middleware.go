package httpx

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/apexgo/apex/observe"
)

// maxRequestIDLen bounds a client-sent request ID that is kept.
const maxRequestIDLen = 64

// SaneRequestID reports whether a client-sent request ID may be kept:
// 1 to 64 printable ASCII characters, no spaces.
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

// requestIDLen is the length of a generated request ID.
const requestIDLen = 32

// newRequestID writes a new request ID into c: 32 hex characters (128
// bits) from the runtime's ChaCha8 generator, unique enough for
// correlation and much cheaper per request than crypto/rand. A request ID
// is not a secret. The ID's characters are c's own, so that the ID, its
// header value and the request's context take one allocation.
func newRequestID(c *requestCtx) string {
	var b [requestIDLen / 2]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	hex.Encode(c.idBuf[:], b[:])
	// idBuf is never written again: the string may share its bytes.
	return unsafe.String(&c.idBuf[0], len(c.idBuf))
}

// errPanic marks a recovered panic; the client sees a plain 500.
var errPanic = errors.New("httpx: handler panicked")

// stack is apex's default middleware fused into one echo middleware: the
// steps run in the documented order (request ID, panic recovery, access
// log, tracing, metrics, security headers, body limit, request timeout),
// each only when enabled, for the price of one closure per request instead
// of one per step. The server span is one of those steps ([serverSpans]);
// gzip wraps the rest only for a request that accepts it. CORS stays a
// separate echo middleware after the stack.
type stack struct {
	log      *zap.Logger
	idHeader string // canonical; "" when request IDs are off
	recover  bool
	access   *zap.Logger // nil when the access log is off
	// accessCore and accessName are access's core and name, errorOutput
	// where zap reports a failed write.
	accessCore  zapcore.Core
	accessName  string
	errorOutput zapcore.WriteSyncer
	skip        []string
	spans       *serverSpans                  // set when spans are recorded
	propagate   propagation.TextMapPropagator // set when they are not: logs still get the incoming trace_id
	metrics     *metrics
	headers     []header
	bodyMax     int64
	timeout     time.Duration
	gzip        echo.MiddlewareFunc // nil when off
	values      []ContextValue      // answered by every request's context
}

type header struct {
	key   string
	value []string
}

func newStack(cfg Config, log *zap.Logger, m *metrics, spans *serverSpans, prop propagation.TextMapPropagator) (*stack, error) {
	s := &stack{log: log, recover: cfg.Recover.Enabled, metrics: m, spans: spans, propagate: prop}
	if cfg.RequestID.Enabled {
		s.idHeader = http.CanonicalHeaderKey(cfg.RequestID.Header)
	}
	if cfg.AccessLog.Enabled {
		// The caller is always this file: not worth a stack walk per line.
		s.access = log.Named("access").WithOptions(zap.WithCaller(false))
		s.accessCore, s.accessName = s.access.Core(), s.access.Name()
		s.errorOutput = zapcore.Lock(os.Stderr)
		s.skip = cfg.AccessLog.SkipPaths
	}
	if sh := cfg.SecurityHeaders; sh.Enabled {
		add := func(k, v string) {
			if v != "" {
				s.headers = append(s.headers, header{http.CanonicalHeaderKey(k), []string{v}})
			}
		}
		add("X-Content-Type-Options", "nosniff")
		add("X-Frame-Options", sh.FrameOptions)
		add("Referrer-Policy", sh.ReferrerPolicy)
		add("Content-Security-Policy", sh.ContentSecurityPolicy)
		if sh.HSTSMaxAge > 0 {
			s.headers = append(s.headers, header{"Strict-Transport-Security", []string{"max-age=" + strconv.Itoa(sh.HSTSMaxAge) + "; includeSubDomains"}})
		}
	}
	if cfg.BodyLimit.Enabled {
		n, err := parseSize(cfg.BodyLimit.Max)
		if err != nil {
			return nil, fmt.Errorf("http.body_limit.max: %w", err)
		}
		s.bodyMax = n
	}
	if cfg.Timeout.Enabled {
		s.timeout = cfg.Timeout.Duration
	}
	return s, nil
}

func (s *stack) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error { return s.serve(c, next) }
}

func (s *stack) serve(c echo.Context, next echo.HandlerFunc) (err error) {
	start := time.Now()
	req := c.Request()
	res := c.Response()

	// Request ID, logger, incoming trace context and deadline: one new
	// context (which also holds the ID and its header value) and one copy
	// of the request.
	rc := &requestCtx{Context: req.Context()}
	if len(s.values) > 0 {
		rc.values, rc.echo = s.values, c
	}
	var id string
	if s.idHeader != "" {
		if v := req.Header[s.idHeader]; len(v) > 0 { // canonical key: no Get
			id = v[0]
		}
		if !SaneRequestID(id) {
			id = newRequestID(rc)
		}
		rc.ids[0] = id
		res.Header()[s.idHeader] = rc.ids[:]
	}
	rc.scope = observe.NewScope(s.log, id)
	var ctx context.Context = rc
	var span trace.Span
	if s.spans != nil {
		ctx, span = s.spans.start(ctx, c, req)
	} else if s.propagate != nil && hasTraceContext(req.Header) {
		ctx = s.propagate.Extract(ctx, propagation.HeaderCarrier(req.Header))
	}
	if s.timeout > 0 && rc.setDeadline(start.Add(s.timeout)) {
		defer rc.stop()
	}
	req = req.WithContext(ctx)
	c.SetRequest(req)

	// Recovery, then access log and metrics, once the response is final.
	defer func() {
		if v := recover(); v != nil {
			if !s.recover || v == http.ErrAbortHandler {
				// net/http ends the connection; record the request as the
				// failure it is, then let the panic go on.
				res.Status = http.StatusInternalServerError
				if span != nil {
					s.spans.end(span, c, req, id, res.Status, fmt.Errorf("%w: %v", errPanic, v))
				}
				s.record(c, req, id, start)
				panic(v)
			}
			observe.LogPanic(observe.Logger(ctx).With(zap.String("route", c.Path())), "HTTP handler", v)
			p := NewProblem(http.StatusInternalServerError, "an internal error occurred")
			p.Err = fmt.Errorf("%w: %v", errPanic, v)
			err = p
		}
		if err != nil && !res.Committed {
			c.Error(err)
		}
		if span != nil {
			s.spans.end(span, c, req, id, res.Status, err)
		}
		err = nil // answered
		s.record(c, req, id, start)
	}()

	for _, h := range s.headers {
		res.Header()[h.key] = h.value
	}
	if s.bodyMax > 0 && req.Body != nil && req.Body != http.NoBody {
		if req.ContentLength > s.bodyMax {
			return NewProblem(http.StatusRequestEntityTooLarge, "the request body is too large")
		}
		req.Body = http.MaxBytesReader(res, req.Body, s.bodyMax)
	}
	if s.gzip != nil && acceptsGzip(req.Header) {
		next = s.gzip(next)
	}
	return markTimeout(c, next(c))
}

// acceptsGzip is strings.Contains(h.Get("Accept-Encoding"), "gzip")
// without canonicalising the key on every request.
func acceptsGzip(h http.Header) bool {
	v := h[echo.HeaderAcceptEncoding]
	return len(v) > 0 && strings.Contains(v[0], "gzip")
}

// record writes the metrics and the access log line of a finished request,
// both with the same end time: one clock read for the two.
func (s *stack) record(c echo.Context, req *http.Request, id string, start time.Time) {
	if s.metrics == nil && s.access == nil {
		return
	}
	end := time.Now()
	if s.metrics != nil {
		s.metrics.observe(c, end.Sub(start))
	}
	if s.access != nil && !slices.Contains(s.skip, req.URL.Path) {
		s.writeAccess(c, id, start, end)
	}
}

// markTimeout turns a handler error returned after the request's deadline
// into ErrRequestTimeout, whatever the handler wrapped.
func markTimeout(c echo.Context, err error) error {
	if err != nil && !c.Response().Committed && errors.Is(c.Request().Context().Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrRequestTimeout, err)
	}
	return err
}

// writeAccess writes one INFO line: method, route, status, bytes,
// latency, request_id and trace_id. Headers (so Authorization and cookies)
// and paths (which may carry tokens) are never logged: the route template
// says which endpoint it was.
//
// It checks the entry with the access logger's core itself, stamped with
// the request's end time, rather than through zap.Logger.Check, which
// would read the clock again; the access logger has no caller and no
// stack trace to add. The fields are a pooled array: zap's cores encode
// (or copy) the fields they are given before Write returns.
func (s *stack) writeAccess(c echo.Context, id string, start, end time.Time) {
	ce := s.accessCore.Check(zapcore.Entry{LoggerName: s.accessName, Time: end, Level: zapcore.InfoLevel, Message: "request"}, nil)
	if ce == nil {
		return
	}
	ce.ErrorOutput = s.errorOutput
	req := c.Request()
	buf := fieldPool.Get().(*[accessFields]zap.Field)
	fields := append(buf[:0],
		zap.String("method", req.Method),
		zap.String("route", c.Path()),
		zap.Int("status", c.Response().Status),
		zap.Int64("bytes", c.Response().Size),
		zap.Duration("latency", end.Sub(start)),
		zap.String("request_id", id),
	)
	if sc := trace.SpanContextFromContext(req.Context()); sc.IsValid() {
		fields = append(fields, zap.String("trace_id", sc.TraceID().String()))
	}
	ce.Write(fields...)
	clear(fields)
	fieldPool.Put(buf)
}

// accessFields is the most fields an access line has.
const accessFields = 7

var fieldPool = sync.Pool{New: func() any { return new([accessFields]zap.Field) }}

// metrics is the HTTP metrics of the default stack:
// http_requests_total and http_request_duration_seconds, labelled by
// method, route template and status. Unmatched routes share one label
// value so that scanning bots cannot grow the series count.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	series   sync.Map // seriesKey → *series: one lookup per request, not two
}

type seriesKey struct {
	method, route string
	status        int
}

type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
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

func (m *metrics) observe(c echo.Context, latency time.Duration) {
	route := c.Path()
	if route == "" {
		route = "<unmatched>"
	}
	k := seriesKey{methodLabel(c.Request().Method), route, c.Response().Status}
	v, ok := m.series.Load(k)
	if !ok {
		// Bounded: methods, route templates and statuses are finite sets.
		status := statusLabel(k.status)
		v, _ = m.series.LoadOrStore(k, &series{
			requests: m.requests.WithLabelValues(k.method, k.route, status),
			duration: m.duration.WithLabelValues(k.method, k.route, status),
		})
	}
	s := v.(*series)
	s.requests.Inc()
	s.duration.Observe(latency.Seconds())
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
