package core

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

	apexapp "github.com/apexgo/apex/app"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/observe"
)

// Admin is the worker's admin listener (section "worker"): a process
// without apex's HTTP server still answers its orchestrator's probes and
// Prometheus, with the same health checks the API serves at /readyz.
var Admin = fx.Module("tracker.admin",
	apexapp.ProvideSection("worker", DefaultWorkerConfig),
	fx.Invoke(startAdmin),
)

type adminIn struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    WorkerConfig
	Gatherer  prometheus.Gatherer
	Log       *zap.Logger
	Checks    []httpx.HealthCheck `group:"httpx.health_checks"`
}

func startAdmin(in adminIn) error {
	if in.Config.AdminAddr == "" {
		return nil
	}
	health, err := httpx.NewHealth(httpx.HealthConfig{LivePath: "/livez", ReadyPath: "/readyz", Timeout: in.Config.HealthTimeout}, in.Log, in.Checks)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", observe.MetricsHandler(in.Gatherer, in.Log))
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		report := health.Run(r.Context())
		w.Header().Set("Content-Type", "application/json")
		if report.Status != "ok" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(report)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	in.Lifecycle.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", in.Config.AdminAddr)
			if err != nil {
				return fmt.Errorf("worker.admin_addr (%s): %w", apexapp.EnvName("worker.admin_addr"), err)
			}
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					in.Log.Error("tracker: admin listener stopped", zap.Error(err))
				}
			}()
			in.Log.Info("tracker: admin listening", zap.String("addr", ln.Addr().String()))
			return nil
		},
		OnStop: srv.Shutdown,
	})
	return nil
}
