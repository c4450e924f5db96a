package httpx

import (
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/observe"
)

// AdminHealth serves the health endpoints, /livez and /readyz, on
// observe's admin listener (observe.admin.addr) in an app without
// [Module]: a process with no HTTP server (a worker) still answers its
// orchestrator's probes there, running the checks registered with
// [AsHealthCheck]. apex.Without(apex.HTTP) includes it; [Module] puts
// its own endpoints on the admin listener itself, so an app has one or
// the other.
var AdminHealth = fx.Invoke(registerAdminHealth)

type adminHealthIn struct {
	fx.In
	Admin  *observe.AdminServer `optional:"true"`
	Checks []HealthCheck        `group:"httpx.health_checks"`
	Log    *zap.Logger
	State  *app.State `optional:"true"`
}

func registerAdminHealth(in adminHealthIn) error {
	if in.Admin == nil {
		return nil
	}
	h, err := NewHealth(HealthConfig{}, in.Log.Named("health"), in.Checks)
	if err != nil {
		return err
	}
	if in.State != nil {
		h.WaitForStart(in.State.Started)
	}
	return h.serveOn(in.Admin, DefaultLivePath, DefaultReadyPath)
}

// serveOn puts h's endpoints on the admin listener a.
func (h *Health) serveOn(a *observe.AdminServer, livePath, readyPath string) error {
	live, ready := h.Handlers()
	if err := a.Handle(livePath, live); err != nil {
		return err
	}
	return a.Handle(readyPath, ready)
}
