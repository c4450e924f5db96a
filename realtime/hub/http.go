package hub

import (
	"bufio"
	"context"
	"encoding/binary"
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
		ip := ipOf(r)
		ctx, cancel := context.WithCancel(WithRemoteIP(context.WithoutCancel(r.Context()), ip))
		defer cancel()
		rc := http.NewResponseController(w)
		if hijack {
			w = &hijacker{ResponseWriter: w, hub: h, ip: ip}
		} else {
			w = &statusWatch{ResponseWriter: w, hub: h, ip: ip}
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

// hijacker clears the deadlines net/http left on a hijacked connection,
// and has the connection's reads watched for a frame over the message size
// limit (see sizeWatch). The net.Conn itself is returned as it is, so that
// centrifuge's writes keep their writev.
type hijacker struct {
	http.ResponseWriter
	hub *Hub
	ip  string
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return c, rw, err
	}
	_ = c.SetDeadline(time.Time{})
	// Nothing is buffered after the handshake (centrifuge refuses a client
	// that sent data before it): the reader's buffer can read through the
	// watch instead of net/http's reader, at no extra memory.
	if rw.Reader.Buffered() == 0 {
		rw.Reader.Reset(&sizeWatch{Conn: c, hub: h.hub, ip: h.ip, limit: int64(h.hub.cfg.Limits.MessageSizeLimit)})
	}
	return c, rw, nil
}

func (h *hijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// sizeWatch logs and counts a WebSocket message over the size limit,
// which centrifuge's WebSocket closes by itself (1009 "message too big")
// before any handler of the hub sees it. It follows the client's frame
// headers as they are read, summing a message's data frames as the
// WebSocket's own read limit does, and stops at the first refusal.
type sizeWatch struct {
	net.Conn
	hub   *Hub
	ip    string
	limit int64

	hdr     [14]byte // the frame header being read
	nh      int
	skip    int64 // payload bytes left in the current frame
	message int64 // the current message's length so far
	done    bool
}

func (w *sizeWatch) Read(b []byte) (int, error) {
	n, err := w.Conn.Read(b)
	if !w.done && n > 0 {
		w.scan(b[:n])
	}
	return n, err
}

func (w *sizeWatch) scan(p []byte) {
	for len(p) > 0 && !w.done {
		if w.skip > 0 {
			k := min(int64(len(p)), w.skip)
			w.skip -= k
			p = p[k:]
			continue
		}
		w.hdr[w.nh] = p[0]
		w.nh++
		p = p[1:]
		need := 2
		if w.nh >= 2 {
			switch w.hdr[1] & 0x7f {
			case 126:
				need = 4
			case 127:
				need = 10
			}
			if w.hdr[1]&0x80 != 0 { // masked, as client frames are
				need += 4
			}
		}
		if w.nh < need {
			continue
		}
		w.nh = 0
		var size int64
		switch l := w.hdr[1] & 0x7f; l {
		case 126:
			size = int64(binary.BigEndian.Uint16(w.hdr[2:4]))
		case 127:
			size = int64(binary.BigEndian.Uint64(w.hdr[2:10]) & (1<<63 - 1))
		default:
			size = int64(l)
		}
		switch op := w.hdr[0] & 0x0f; {
		case op == 1 || op == 2: // text, binary: a new message
			w.message = size
		case op == 0: // continuation
			w.message += size
		}
		if w.hdr[0]&0x0f < 8 && w.limit > 0 && w.message > w.limit {
			w.hub.refuse("message_size", zap.String("ip", w.ip))
			w.done = true
			return
		}
		w.skip = size
	}
}

// statusWatch logs and counts the 413 that centrifuge's SSE, HTTP-stream
// and emulation handlers answer, by themselves, for a request body over
// the message size limit.
type statusWatch struct {
	http.ResponseWriter
	hub *Hub
	ip  string
}

func (w *statusWatch) WriteHeader(code int) {
	if code == http.StatusRequestEntityTooLarge {
		w.hub.refuse("message_size", zap.String("ip", w.ip))
	}
	w.ResponseWriter.WriteHeader(code)
}

// Flush and FlushError keep the streams flushable.
func (w *statusWatch) Flush() { _ = w.FlushError() }

func (w *statusWatch) FlushError() error {
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWatch) Unwrap() http.ResponseWriter { return w.ResponseWriter }
