package hub

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/centrifugal/centrifuge"
	"go.uber.org/zap"
)

// Handlers are the hub's HTTP transports.
type Handlers struct {
	// WebSocket is the bidirectional transport (centrifuge protocol v2,
	// JSON or Protobuf).
	WebSocket http.Handler
	// SSE and HTTPStream are unidirectional streams; with Emulation
	// (where the client posts its commands) browsers use them as
	// bidirectional fallbacks.
	SSE        http.Handler
	HTTPStream http.Handler
	Emulation  http.Handler
}

// IPFunc returns the client address of a request, for the per-IP limit.
type IPFunc func(*http.Request) string

// Handlers returns the transports. ip keys the per-IP connection limit;
// nil uses the request's remote address.
func (h *Hub) Handlers(ip IPFunc) Handlers {
	if ip == nil {
		ip = func(r *http.Request) string {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				return r.RemoteAddr
			}
			return host
		}
	}
	l := h.cfg.Limits
	pp := centrifuge.PingPongConfig{PingInterval: l.PingInterval, PongTimeout: l.PongTimeout}
	ws := centrifuge.NewWebsocketHandler(h.node, centrifuge.WebsocketConfig{
		CheckOrigin:      func(*http.Request) bool { return true }, // checked by wrap, with a logged reason
		MessageSizeLimit: l.MessageSizeLimit,
		WriteTimeout:     l.WriteTimeout,
		PingPongConfig:   pp,
	})
	return Handlers{
		WebSocket:  h.wrap(ws, ip, true),
		SSE:        h.wrap(centrifuge.NewSSEHandler(h.node, centrifuge.SSEConfig{PingPongConfig: pp, MaxRequestBodySize: l.MessageSizeLimit}), ip, false),
		HTTPStream: h.wrap(centrifuge.NewHTTPStreamHandler(h.node, centrifuge.HTTPStreamConfig{PingPongConfig: pp, MaxRequestBodySize: l.MessageSizeLimit}), ip, false),
		Emulation:  h.wrap(centrifuge.NewEmulationHandler(h.node, centrifuge.EmulationConfig{MaxRequestBodySize: l.MessageSizeLimit}), ip, false),
	}
}

// OriginAllowed reports whether a browser request from origin may
// connect: same host as the request, or listed in AllowedOrigins ("*"
// allows every origin). Requests without Origin (not from a browser) are
// allowed.
func (h *Hub) OriginAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	allowed := h.cfg.Limits.AllowedOrigins
	if slices.Contains(allowed, "*") || slices.Contains(allowed, strings.TrimRight(origin, "/")) {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && len(allowed) == 0 && strings.EqualFold(u.Host, r.Host)
}

// wrap detaches the connection from the HTTP server's per-request
// bounds (the request timeout's deadline, the server's read and write
// deadlines): a realtime connection lives until either side closes it,
// bounded by ping/pong and the write timeout instead. It also checks the
// origin and records the client IP.
func (h *Hub) wrap(next http.Handler, ipOf IPFunc, hijack bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.OriginAllowed(r) {
			h.refuse("origin", zap.String("origin", r.Header.Get("Origin")), zap.String("ip", ipOf(r)))
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		if h.refusing() {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithCancel(WithRemoteIP(context.WithoutCancel(r.Context()), ipOf(r)))
		defer cancel()
		rc := http.NewResponseController(w)
		if hijack {
			w = &hijacker{ResponseWriter: w}
		} else {
			_ = rc.SetReadDeadline(time.Time{})
			_ = rc.SetWriteDeadline(time.Time{})
			// The request context may end at the request timeout; the
			// client going away is what ends a stream.
			if cn, ok := unwrapCloseNotifier(w); ok {
				gone := cn.CloseNotify() //nolint:staticcheck // the only signal of a closed HTTP/1 connection once the request context is detached
				go func() {
					select {
					case <-gone:
						cancel()
					case <-ctx.Done():
					}
				}()
			} else {
				stop := context.AfterFunc(r.Context(), func() {
					if !errors.Is(r.Context().Err(), context.DeadlineExceeded) {
						cancel()
					}
				})
				defer stop()
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func unwrapCloseNotifier(w http.ResponseWriter) (http.CloseNotifier, bool) { //nolint:staticcheck // see wrap
	for {
		if cn, ok := w.(http.CloseNotifier); ok { //nolint:staticcheck // see wrap
			return cn, true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil, false
		}
		w = u.Unwrap()
	}
}

// hijacker clears the deadlines net/http left on a hijacked connection.
type hijacker struct{ http.ResponseWriter }

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err == nil {
		_ = c.SetDeadline(time.Time{})
	}
	return c, rw, err
}

func (h *hijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }
