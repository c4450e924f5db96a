package observe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// MetricsHandler serves g in the Prometheus exposition format.
func MetricsHandler(g prometheus.Gatherer, log *zap.Logger) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:          zap.NewStdLog(log),
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
		// The HTTP server compresses responses itself (http.gzip).
		DisableCompression: true,
		Timeout:            10 * time.Second,
	})
}

// AdminServer is the separate listener of observe.admin.addr: metrics,
// what other modules add with [AdminServer.Handle] (httpx's health
// endpoints) and, when enabled, pprof. It is never the public server.
type AdminServer struct {
	srv  *http.Server
	mux  *http.ServeMux
	ln   net.Listener
	log  *zap.Logger
	mu   sync.Mutex
	used map[string]bool // the paths served
}

// NewAdminServer returns a server for cfg.Addr, not yet listening.
func NewAdminServer(cfg Config, g prometheus.Gatherer, log *zap.Logger) *AdminServer {
	if log == nil {
		log = zap.NewNop()
	}
	mux := http.NewServeMux()
	mux.Handle(cfg.Metrics.Path, MetricsHandler(g, log))
	if cfg.Admin.PProf {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return &AdminServer{
		mux:  mux,
		used: map[string]bool{cfg.Metrics.Path: true},
		srv: &http.Server{
			Addr:              cfg.Admin.Addr,
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			IdleTimeout:       time.Minute,
			ErrorLog:          zap.NewStdLog(log),
		},
		log: log,
	}
}

// Handle serves h at path (exact, e.g. /readyz) on the admin listener,
// before or after Start. A path already served (the metrics path, a path
// handled before) or under /debug/pprof/ is an error. On a nil
// AdminServer (no observe.admin.addr) it does nothing.
func (a *AdminServer) Handle(path string, h http.Handler) error {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.used[path] || !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "/debug/pprof/") || h == nil {
		return fmt.Errorf("observe: admin listener: %q is taken or not a path (with a handler)", path)
	}
	a.used[path] = true
	a.mux.Handle(path, h)
	return nil
}

// Start binds the address (an error names it) and serves in the background.
func (a *AdminServer) Start(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", a.srv.Addr)
	if err != nil {
		return fmt.Errorf("observe.admin.addr: listen on %s: %w", a.srv.Addr, err)
	}
	a.ln = ln
	go func() {
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("admin server stopped", zap.Error(err))
		}
	}()
	a.log.Info("admin server listening", zap.String("addr", ln.Addr().String()))
	return nil
}

// Addr is the bound address, once started; nil before, or on a nil
// AdminServer (the module's, without observe.admin.addr).
func (a *AdminServer) Addr() net.Addr {
	if a == nil || a.ln == nil {
		return nil
	}
	return a.ln.Addr()
}

// Stop shuts the server down within ctx.
func (a *AdminServer) Stop(ctx context.Context) error {
	if err := a.srv.Shutdown(ctx); err != nil {
		return a.srv.Close()
	}
	return nil
}
