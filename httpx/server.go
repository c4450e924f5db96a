package httpx

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/observe"
)

// Params are what [New] builds a server from. Only Config and Log are
// required; a nil Registerer disables metrics, a nil TracerProvider tracing.
// With a recording TracerProvider every request gets a server span, the
// child of the trace context Propagator reads from the request (W3C trace
// context and baggage when Propagator is nil); with a no-op one, Propagator
// (if set) still reads an incoming trace context for the logs.
type Params struct {
	// Config is the "http" section.
	Config Config
	// Info names the service in spans.
	Info app.Info
	// Log receives the access log, 5xx errors and server errors.
	Log *zap.Logger
	// Registerer receives the request metrics; nil: no metrics.
	Registerer prometheus.Registerer
	// Gatherer is served at MetricsPath.
	Gatherer prometheus.Gatherer
	// TracerProvider makes a server span per request; nil or a no-op
	// provider: no spans (an incoming trace context is still carried).
	TracerProvider trace.TracerProvider
	// Propagator reads the incoming trace context (traceparent).
	Propagator propagation.TextMapPropagator
	// MetricsPath serves Gatherer on this server when non-empty.
	MetricsPath string
	// Checks are the readiness checks /readyz runs.
	Checks []HealthCheck
	// ErrorMapping maps domain errors to statuses.
	ErrorMapping []ErrorMapping
	// ContextValues are answered by every request's context (see
	// [ContextValue]).
	ContextValues []ContextValue
}

// Server is the app's echo instance and the listener it is served on.
type Server struct {
	// Echo is the router; add routes before Start.
	Echo *echo.Echo
	// Health runs the readiness checks behind /readyz.
	Health *Health

	cfg  Config
	log  *zap.Logger
	srv  *http.Server
	mu   sync.Mutex
	ln   net.Listener
	done chan struct{}
}

// New builds the echo instance with apex's error handler, validator,
// health endpoints and default middleware stack, each step switchable in
// cfg: request ID, panic recovery, access log, tracing, metrics, security
// headers, body limit, gzip and request timeout (fused into one
// middleware for speed), then CORS.
func New(p Params) (*Server, error) {
	cfg := p.Config
	log := p.Log
	eh, err := NewErrorHandler(log, p.ErrorMapping)
	if err != nil {
		return nil, err
	}
	health, err := NewHealth(cfg.Health, log.Named("health"), p.Checks)
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = eh.Handle
	e.Validator = NewValidator()
	if e.IPExtractor, err = ClientIP(cfg.TrustedProxies); err != nil {
		return nil, err
	}

	var metrics *metrics
	if cfg.Metrics.Enabled && p.Registerer != nil {
		if metrics, err = newMetrics(p.Registerer); err != nil {
			return nil, err
		}
	}
	var spans *serverSpans
	var prop propagation.TextMapPropagator
	if cfg.Tracing.Enabled && p.TracerProvider != nil {
		if observe.Recording(p.TracerProvider) {
			pr := p.Propagator
			if pr == nil {
				pr = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
			}
			var idHeader string
			if cfg.RequestID.Enabled {
				idHeader = cfg.RequestID.Header
			}
			spans = newServerSpans(p.TracerProvider, pr, idHeader)
		} else {
			// Nothing records spans: the stack only carries an incoming
			// trace context, so that logs still show its trace_id.
			prop = p.Propagator
		}
	}
	st, err := newStack(cfg, log, metrics, spans, prop)
	if err != nil {
		return nil, err
	}
	if err := checkContextValues(p.ContextValues); err != nil {
		return nil, err
	}
	st.values = p.ContextValues
	if cfg.Gzip.Enabled {
		// Run by the stack, and only for requests that accept gzip: echo
		// builds its middleware chain per request, so a separate gzip
		// middleware would cost every request a closure.
		st.gzip = middleware.GzipWithConfig(middleware.GzipConfig{Level: cfg.Gzip.Level, MinLength: cfg.Gzip.MinLength})
	}
	e.Use(st.middleware)
	if c := cfg.CORS; len(c.AllowOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:     c.AllowOrigins,
			AllowMethods:     c.AllowMethods,
			AllowHeaders:     c.AllowHeaders,
			ExposeHeaders:    c.ExposeHeaders,
			AllowCredentials: c.AllowCredentials,
			MaxAge:           c.MaxAge,
		}))
	}

	e.GET(cfg.Health.LivePath, health.live)
	e.GET(cfg.Health.ReadyPath, health.ready)
	if p.MetricsPath != "" && p.Gatherer != nil {
		e.GET(p.MetricsPath, echo.WrapHandler(observe.MetricsHandler(p.Gatherer, log)))
	}

	s := &Server{Echo: e, Health: health, cfg: cfg, log: log, done: make(chan struct{})}
	s.srv = &http.Server{
		Addr:              cfg.Addr,
		Handler:           e,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          stdLog(log.Named("http")),
	}
	e.Server = s.srv
	return s, nil
}

// Start binds http.addr, returning an error that names it when the
// address is in use or invalid, then serves in the background. The bound
// listener is also Echo.Listener, so Echo.ListenerAddr() reports the
// address (useful with port 0) to code that holds only the *echo.Echo.
func (s *Server) Start(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("http.addr: listen on %s: %w", s.cfg.Addr, err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.Echo.Listener = ln
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("HTTP server stopped serving", zap.Error(err))
		}
	}()
	s.log.Info("HTTP server listening", zap.String("addr", ln.Addr().String()))
	return nil
}

// Addr is the bound address once started (useful with port 0), else nil.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Stop turns /readyz to 503, waits http.drain_delay, stops accepting, and
// lets in-flight requests finish within http.shutdown_timeout (and ctx);
// connections still open then are closed and an error is returned.
func (s *Server) Stop(ctx context.Context) error {
	s.Health.Drain()
	if s.Addr() == nil {
		return nil
	}
	if d := s.cfg.DrainDelay; d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
		err = fmt.Errorf("httpx: in-flight requests did not finish within http.shutdown_timeout: %w", err)
	}
	<-s.done
	return err
}

// stdLog adapts log for net/http's error log (TLS handshake errors, broken
// connections) at WARN or above: noise at info, not worth an alert.
func stdLog(l *zap.Logger) *stdlog.Logger {
	if l.Level() < zap.WarnLevel { // IncreaseLevel refuses to lower a level
		l = l.WithOptions(zap.IncreaseLevel(zap.WarnLevel))
	}
	return zap.NewStdLog(l)
}
