package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/observe"
)

// Config is this example's section, "worker".
type Config struct {
	// AdminAddr serves /metrics, /livez and /readyz; "" turns it off.
	// Default 127.0.0.1:9090.
	AdminAddr string `koanf:"admin_addr"`
	// HealthTimeout bounds each readiness check. Default 2s.
	HealthTimeout time.Duration `koanf:"health_timeout" validate:"gt=0"`
}

// adminModule runs the admin listener: the worker has no HTTP server, so
// its health checks (Redis, the queue's backend) are served here.
var adminModule = fx.Module("worker",
	app.ProvideSection("worker", func() Config { return Config{AdminAddr: "127.0.0.1:9090", HealthTimeout: 2 * time.Second} }),
	fx.Provide(newAdmin),
	fx.Invoke(func(*admin) {}),
)

type admin struct {
	srv *http.Server
	ln  net.Listener
}

type adminIn struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    Config
	Gatherer  prometheus.Gatherer
	Log       *zap.Logger
	Checks    []httpx.HealthCheck `group:"httpx.health_checks"`
}

func newAdmin(in adminIn) (*admin, error) {
	a := &admin{}
	if in.Config.AdminAddr == "" {
		return a, nil
	}
	h, err := httpx.NewHealth(httpx.HealthConfig{LivePath: "/livez", ReadyPath: "/readyz", Timeout: in.Config.HealthTimeout}, in.Log, in.Checks)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", observe.MetricsHandler(in.Gatherer, in.Log))
	mux.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		rep := h.Run(r.Context())
		w.Header().Set("Content-Type", "application/json")
		if rep.Status != "ok" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(rep)
	})
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	in.Lifecycle.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", in.Config.AdminAddr)
			if err != nil {
				return fmt.Errorf("worker.admin_addr (%s): %w", app.EnvName("worker.admin_addr"), err)
			}
			a.ln = ln
			go func() {
				if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					in.Log.Error("worker: admin listener stopped", zap.Error(err))
				}
			}()
			in.Log.Info("worker: admin listening", zap.String("addr", ln.Addr().String()))
			return nil
		},
		OnStop: func(ctx context.Context) error { return a.srv.Shutdown(ctx) },
	})
	return a, nil
}

// Addr is the admin listener's address once started.
func (a *admin) Addr() string {
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}
