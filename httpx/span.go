package httpx

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// TracerName is the instrumentation scope of apex's HTTP server spans.
const TracerName = "github.com/apexgo/apex/httpx"

// serverSpans writes apex's HTTP server span, one per request, on the
// OpenTelemetry API, as a step of the fused stack rather than a
// middleware of its own. The span is the child of the W3C trace context
// the request carries (traceparent, tracestate, baggage), is what the
// request context carries to the handler (so outgoing calls propagate it
// on), and is named and described by the stable HTTP semantic conventions:
// "GET /items/:id" with http.request.method, http.route, url.scheme,
// url.path (no query: it may carry tokens), server.address, server.port,
// network.protocol.version, client.address, network.peer.address,
// user_agent.original, http.response.status_code, the request ID as
// http.response.header.<header>, and for 5xx answers error.type, an
// Error status and the handler's error as an exception event.
type serverSpans struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator // nil: no incoming context is read
	idKey  attribute.Key                 // "" when request IDs are off
}

func newServerSpans(tp trace.TracerProvider, prop propagation.TextMapPropagator, idHeader string) *serverSpans {
	s := &serverSpans{
		tracer: tp.Tracer(TracerName, trace.WithSchemaURL(semconv.SchemaURL)),
		prop:   prop,
	}
	if idHeader != "" {
		s.idKey = attribute.Key("http.response.header." + strings.ToLower(idHeader))
	}
	return s
}

// hasTraceContext reports whether h carries anything a W3C propagator
// reads, so that requests without it skip the extraction.
func hasTraceContext(h http.Header) bool {
	return len(h["Traceparent"]) > 0 || len(h["Baggage"]) > 0
}

// start reads the incoming trace context and starts the server span. Its
// attributes are set once, at the end (see [serverSpans.end]).
func (s *serverSpans) start(ctx context.Context, c echo.Context, req *http.Request) (context.Context, trace.Span) {
	if s.prop != nil && hasTraceContext(req.Header) {
		ctx = s.prop.Extract(ctx, propagation.HeaderCarrier(req.Header))
	}
	name, known := spanMethod(req.Method)
	if !known {
		name = "HTTP"
	}
	if route := c.Path(); route != "" {
		name += " " + route
	}
	return s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer))
}

// maxSpanAttrs is the most attributes end sets.
const maxSpanAttrs = 15

// end sets the span's attributes and final status and ends it. err is the
// handler's error (or the recovered panic), nil when it returned none.
//
// Every attribute goes in one SetAttributes call: the SDK then copies
// them once into a slice of the right size, where attributes given at
// the start and more at the end cost it two copies and a larger array
// (measured: about a third of the span's cost). Samplers therefore see
// the span's name ("GET /items/:id") and kind, not its attributes.
func (s *serverSpans) end(span trace.Span, c echo.Context, req *http.Request, id string, status int, err error) {
	var buf [maxSpanAttrs]attribute.KeyValue
	method, known := spanMethod(req.Method)
	a := append(buf[:0], semconv.HTTPRequestMethodKey.String(method))
	if !known {
		a = append(a, semconv.HTTPRequestMethodOriginal(req.Method))
	}
	if route := c.Path(); route != "" {
		a = append(a, semconv.HTTPRoute(route))
	}
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	a = append(a, semconv.URLScheme(scheme), semconv.URLPath(req.URL.Path))
	if host, port := splitHostPort(req.Host); host != "" {
		a = append(a, semconv.ServerAddress(host))
		if port > 0 {
			a = append(a, semconv.ServerPort(port))
		}
	}
	if v := protocolVersion(req); v != "" {
		a = append(a, semconv.NetworkProtocolVersion(v))
	}
	if peer, _ := splitHostPort(req.RemoteAddr); peer != "" {
		a = append(a, semconv.NetworkPeerAddress(peer))
	}
	if client := c.RealIP(); client != "" {
		a = append(a, semconv.ClientAddress(client))
	}
	if ua := req.UserAgent(); ua != "" {
		a = append(a, semconv.UserAgentOriginal(ua))
	}
	if s.idKey != "" && id != "" {
		a = append(a, s.idKey.StringSlice([]string{id}))
	}
	if status > 0 {
		a = append(a, semconv.HTTPResponseStatusCode(status))
	}
	if status >= 500 {
		a = append(a, semconv.ErrorTypeKey.String(statusLabel(status)))
		desc := ""
		if err != nil {
			span.RecordError(err)
			desc = err.Error()
		}
		span.SetStatus(codes.Error, desc)
	}
	span.SetAttributes(a...)
	span.End()
}

// spanMethod is the http.request.method value: the method when it is one
// of the standard ones, else "_OTHER".
func spanMethod(m string) (string, bool) {
	if l := methodLabel(m); l != "OTHER" {
		return l, true
	}
	return "_OTHER", false
}

func protocolVersion(req *http.Request) string {
	switch {
	case req.ProtoMajor == 1 && req.ProtoMinor == 1:
		return "1.1"
	case req.ProtoMajor == 2:
		return "2"
	case req.ProtoMajor == 1 && req.ProtoMinor == 0:
		return "1.0"
	case req.ProtoMajor == 3:
		return "3"
	}
	return ""
}

// splitHostPort splits "host:port", "[v6]:port" or a bare host; port is 0
// when absent or not a number.
func splitHostPort(hp string) (host string, port int) {
	if hp == "" {
		return "", 0
	}
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return strings.Trim(hp, "[]"), 0
	}
	port, _ = strconv.Atoi(p)
	return h, port
}
