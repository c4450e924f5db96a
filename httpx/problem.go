package httpx

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/apexgo/apex/observe"
)

// ProblemContentType is the media type of every error response (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem details body. Return one from a handler
// to choose the response exactly; any other error is turned into one by
// the error handler.
type Problem struct {
	// Type is a URI naming the problem kind. Default "about:blank".
	Type string `json:"type"`
	// Title is a short summary; default: the status text.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence to the client.
	Detail string `json:"detail,omitempty"`
	// Instance is the request path.
	Instance string `json:"instance,omitempty"`
	// RequestID ties the response to the logs.
	RequestID string `json:"request_id,omitempty"`
	// Code is a stable, machine-readable name of the problem kind (an RFC
	// 9457 extension member) for clients to switch on instead of parsing
	// Detail: one of the Code* constants, or an app's own. Empty: the
	// error handler fills in [CodeFor] of Status.
	Code string `json:"code,omitempty"`
	// Errors lists invalid fields (422).
	Errors []FieldError `json:"errors,omitempty"`
	// Header is added to the response (Retry-After, WWW-Authenticate).
	Header http.Header `json:"-"`
	// Err is the cause, logged for 5xx and never sent.
	Err error `json:"-"`
	// Reported means the cause was already logged where it happened (at
	// a throttled rate, say, during an outage): the error handler does not
	// log this 5xx again, so an outage is not one ERROR per request.
	Reported bool `json:"-"`
}

// NewProblem returns a problem with the status's text as title.
func NewProblem(status int, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
}

// Error is the status, title, detail and cause, for logs.
func (p *Problem) Error() string {
	s := fmt.Sprintf("%d %s", p.Status, p.Title)
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	if p.Err != nil {
		s += ": " + p.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (p *Problem) Unwrap() error { return p.Err }

// FieldError is one invalid field of a request: its JSON path and what is
// wrong with it.
type FieldError struct {
	// Field is the JSON path of the field: "items[0].name".
	Field string `json:"field"`
	// Message says what is wrong: "is required".
	Message string `json:"message"`
}

// ErrRequestTimeout is returned for a request whose context deadline
// (http.timeout) passed; it becomes a 503 problem.
var ErrRequestTimeout = errors.New("httpx: request timed out")

// ErrorMapping maps a domain error, matched with errors.Is, to a status.
type ErrorMapping struct {
	// Err is the domain error, matched with errors.Is.
	Err error
	// Status is the HTTP status it becomes, 400 to 599.
	Status int
	// Title overrides the status text.
	Title string
	// Code overrides [CodeFor] of Status.
	Code string
}

const errorMappingGroup = "httpx.error_mappings"

// MapError registers, through fx, a domain error that handlers may return
// and the status it becomes: httpx.MapError(data.ErrNotFound, 404). For a
// 4xx status the error's text is the problem's detail; a 5xx never shows it.
func MapError(err error, status int) fx.Option {
	return MapErrorCode(err, status, "")
}

// MapErrorCode is [MapError] with the problem's [Problem.Code] chosen
// ("" for [CodeFor] of status): httpx.MapErrorCode(auth.ErrInvalidRefresh,
// 401, httpx.CodeInvalidToken).
func MapErrorCode(err error, status int, code string) fx.Option {
	m := ErrorMapping{Err: err, Status: status, Code: code}
	return fx.Provide(fx.Annotate(func() ErrorMapping { return m }, fx.ResultTags(`group:"`+errorMappingGroup+`"`)))
}

// ErrorHandler turns every error into a problem details response.
type ErrorHandler struct {
	log      *zap.Logger
	mappings []ErrorMapping
}

// NewErrorHandler returns a handler logging 5xx to log at ERROR. It fails
// on a mapping with a nil error or a status outside 400-599.
func NewErrorHandler(log *zap.Logger, mappings []ErrorMapping) (*ErrorHandler, error) {
	for _, m := range mappings {
		if m.Err == nil || m.Status < 400 || m.Status > 599 {
			return nil, fmt.Errorf("httpx: error mapping %v → %d: need a non-nil error and a 4xx or 5xx status", m.Err, m.Status)
		}
	}
	return &ErrorHandler{log: log, mappings: mappings}, nil
}

// Handle is an echo.HTTPErrorHandler.
func (h *ErrorHandler) Handle(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p := h.ProblemFor(err)
	if p.Code == "" {
		p.Code = CodeFor(p.Status)
	}
	req := c.Request()
	p.Instance = req.URL.Path
	p.RequestID = observe.RequestID(req.Context())
	// A recovered panic was logged, with its stack, where it was caught.
	if p.Status >= 500 && !p.Reported && !errors.Is(err, errPanic) {
		fields := []zap.Field{
			zap.Error(err), zap.Int("status", p.Status), zap.String("method", req.Method),
			zap.String("route", c.Path()), zap.String("request_id", p.RequestID),
		}
		if sc := trace.SpanContextFromContext(req.Context()); sc.IsValid() {
			fields = append(fields, zap.String("trace_id", sc.TraceID().String()))
		}
		h.log.Error("request failed", fields...)
	}
	hdr := c.Response().Header()
	for k, vs := range p.Header {
		for _, v := range vs {
			hdr.Add(k, v)
		}
	}
	if req.Method == http.MethodHead {
		_ = c.NoContent(p.Status)
		return
	}
	hdr.Set(echo.HeaderContentType, ProblemContentType)
	c.Response().WriteHeader(p.Status)
	_ = c.Echo().JSONSerializer.Serialize(c, p, "")
}

// StatusClientClosedRequest (499, from nginx) is answered, for the logs,
// when the client canceled the request.
const StatusClientClosedRequest = 499

// mapping finds the registered error that matches err's chain first,
// walking the chain from the outside in (depth first through joined
// errors), so that the choice never depends on registration order.
func (h *ErrorHandler) mapping(err error) (ErrorMapping, bool) {
	if err == nil || len(h.mappings) == 0 {
		return ErrorMapping{}, false
	}
	for _, m := range h.mappings {
		if err == m.Err { //nolint:errorlint // identity at this link of the chain
			return m, true
		}
		if is, ok := err.(interface{ Is(error) bool }); ok && is.Is(m.Err) {
			return m, true
		}
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return h.mapping(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if m, ok := h.mapping(e); ok {
				return m, true
			}
		}
	}
	return ErrorMapping{}, false
}

// ProblemFor maps err to a problem: a *Problem as is; a validation error to
// 422; a timeout to 503; a registered domain error to its status; an
// echo.HTTPError (404, 405, 413, bind errors) to its status; anything else
// to a 500 that hides the error.
func (h *ErrorHandler) ProblemFor(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		cp := *p
		if cp.Type == "" {
			cp.Type = "about:blank"
		}
		if cp.Title == "" {
			cp.Title = http.StatusText(cp.Status)
		}
		return &cp
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		p := NewProblem(http.StatusUnprocessableEntity, "the request has invalid fields")
		p.Code = CodeValidation
		p.Errors = ve.Fields
		return p
	}
	if errors.Is(err, context.Canceled) {
		// The client went away; nobody reads this, and it is no fault.
		return &Problem{Type: "about:blank", Title: "Client Closed Request", Status: StatusClientClosedRequest, Err: err}
	}
	if errors.Is(err, ErrRequestTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return &Problem{Type: "about:blank", Title: http.StatusText(http.StatusServiceUnavailable), Status: http.StatusServiceUnavailable,
			Code: CodeTimeout, Detail: "the request took too long", Header: http.Header{"Retry-After": {"1"}}, Err: err}
	}
	if m, ok := h.mapping(err); ok {
		p := NewProblem(m.Status, "")
		p.Code = m.Code
		if m.Title != "" {
			p.Title = m.Title
		}
		if m.Status < 500 {
			p.Detail = err.Error()
		}
		p.Err = err
		return p
	}
	var tooLarge *http.MaxBytesError
	if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) || errors.As(err, &tooLarge) {
		return NewProblem(http.StatusRequestEntityTooLarge, "the request body is too large")
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		p := NewProblem(he.Code, "")
		if p.Title == "" {
			p.Title = "Error"
		}
		if he.Code < 500 {
			if msg, ok := he.Message.(string); ok && msg != http.StatusText(he.Code) {
				p.Detail = msg
			}
		}
		p.Err = err
		return p
	}
	return &Problem{Type: "about:blank", Title: http.StatusText(http.StatusInternalServerError), Status: http.StatusInternalServerError,
		Detail: "an internal error occurred", Err: err}
}
