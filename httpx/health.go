package httpx

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/apexgo/apex/observe"
)

// HealthCheck is one readiness check: a database ping, a Redis ping. A
// check may also implement interface{ Timeout() time.Duration } to choose
// its timeout. httpxtest.Run checks an implementation.
type HealthCheck interface {
	// Name identifies the check in the /readyz report: a short, stable,
	// lower-case name ([a-z0-9_.-], at most 64 bytes), unique in the app.
	Name() string
	// Check returns nil when the dependency is usable and an error saying
	// why not otherwise. It returns promptly once ctx ends (each check
	// runs under its own timeout) and is safe for concurrent use.
	Check(ctx context.Context) error
}

// CheckFunc adapts a function to a [HealthCheck].
func CheckFunc(name string, check func(ctx context.Context) error) HealthCheck {
	return checkFunc{name: name, fn: check}
}

type checkFunc struct {
	name string
	fn   func(context.Context) error
}

func (c checkFunc) Name() string                    { return c.name }
func (c checkFunc) Check(ctx context.Context) error { return c.fn(ctx) }

const healthGroup = "httpx.health_checks"

// AsHealthCheck annotates a constructor of a [HealthCheck] so that /readyz
// runs it: fx.Provide(httpx.AsHealthCheck(newPingCheck)).
func AsHealthCheck(constructor any) any {
	return fx.Annotate(constructor, fx.As(new(HealthCheck)), fx.ResultTags(`group:"`+healthGroup+`"`))
}

// AsHealthChecks annotates a constructor of a []HealthCheck, for a module
// whose checks depend on its configuration (none when a backend is off).
func AsHealthChecks(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"`+healthGroup+`,flatten"`))
}

var checkNameRE = regexp.MustCompile(`^[a-z0-9_.-]{1,64}$`)

// Health runs the readiness checks.
type Health struct {
	checks     []HealthCheck
	running    []atomic.Bool // one run of each check at a time
	states     []checkState  // what each check last logged
	timeout    time.Duration
	logEvery   time.Duration
	showErrors bool
	log        *zap.Logger
	draining   atomic.Bool
	started    func() bool
}

// NewHealth returns a Health for checks; a bad or duplicate name is an error.
func NewHealth(cfg HealthConfig, log *zap.Logger, checks []HealthCheck) (*Health, error) {
	seen := map[string]bool{}
	for _, c := range checks {
		if !checkNameRE.MatchString(c.Name()) {
			return nil, fmt.Errorf("httpx: health check name %q must match %s", c.Name(), checkNameRE)
		}
		if seen[c.Name()] {
			return nil, fmt.Errorf("httpx: health check %q registered twice", c.Name())
		}
		seen[c.Name()] = true
	}
	return &Health{
		checks: checks, running: make([]atomic.Bool, len(checks)), states: make([]checkState, len(checks)),
		timeout: cmp.Or(cfg.Timeout, DefaultHealthTimeout), logEvery: cmp.Or(cfg.LogInterval, DefaultHealthLogInterval),
		showErrors: cfg.ShowErrors, log: log, started: func() bool { return true },
	}, nil
}

// checkState is what a check's log says so far: a probe logs when the
// check starts or stops failing, and at most once per interval while it
// keeps failing, so that a load balancer polling /readyz every 50 ms does
// not write a WARN line each time.
type checkState struct {
	mu         sync.Mutex
	failing    bool
	since      time.Time // when the current failure began
	logged     time.Time // last WARN line
	suppressed int       // failed probes not logged since then
}

// observe logs err (nil: the check passed) if the state changed or the
// interval has passed since the last line.
func (s *checkState) observe(log *zap.Logger, name string, every time.Duration, err error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil && s.failing:
		s.failing = false
		log.Info("health check recovered", zap.String("check", name), zap.Duration("failed_for", now.Sub(s.since)))
	case err == nil:
	case !s.failing:
		s.failing, s.since, s.logged, s.suppressed = true, now, now, 0
		log.Warn("health check failed", zap.String("check", name), zap.Error(err))
	case now.Sub(s.logged) >= every:
		log.Warn("health check still failing", zap.String("check", name), zap.Error(err),
			zap.Duration("failing_for", now.Sub(s.since)), zap.Int("failed_probes_not_logged", s.suppressed))
		s.logged, s.suppressed = now, 0
	default:
		s.suppressed++
	}
}

// WaitForStart makes the report say "starting" (and fail) until started
// reports true; the module passes app.State.Started.
func (h *Health) WaitForStart(started func() bool) { h.started = started }

// Drain makes the report fail from now on, so that load balancers stop
// sending traffic before the server closes.
func (h *Health) Drain() { h.draining.Store(true) }

// CheckResult is one check's outcome in a [Report].
type CheckResult struct {
	// Status is "ok" or "fail".
	Status string `json:"status"`
	// LatencyMS is how long the check took, in milliseconds.
	LatencyMS float64 `json:"latency_ms"`
	// Error says why the check failed, with http.health.show_errors only.
	Error string `json:"error,omitempty"`
}

// Report is the /readyz body.
type Report struct {
	// Status is "ok", "fail", "starting" or "draining".
	Status string `json:"status"`
	// Checks holds each check's outcome by its name.
	Checks map[string]CheckResult `json:"checks"`
}

// Run runs every check concurrently, each under its own timeout.
func (h *Health) Run(ctx context.Context) Report {
	r := Report{Status: "ok", Checks: make(map[string]CheckResult, len(h.checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, c := range h.checks {
		wg.Go(func() {
			res := h.runOne(ctx, c, &h.running[i], &h.states[i])
			mu.Lock()
			r.Checks[c.Name()] = res
			if res.Status != "ok" {
				r.Status = "fail"
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	switch {
	case h.draining.Load():
		r.Status = "draining"
	case !h.started():
		r.Status = "starting"
	}
	return r
}

func (h *Health) runOne(ctx context.Context, c HealthCheck, running *atomic.Bool, state *checkState) (res CheckResult) {
	// A check that ignores its context is abandoned at its timeout, not
	// waited for; until it returns, probes fail without starting another
	// copy, so a stuck check cannot pile up goroutines.
	if !running.CompareAndSwap(false, true) {
		state.observe(h.log, c.Name(), h.logEvery, errStillRunning)
		return CheckResult{Status: "fail", Error: h.maybe(errStillRunning.Error())}
	}
	timeout := h.timeout
	if t, ok := c.(interface{ Timeout() time.Duration }); ok && t.Timeout() > 0 {
		timeout = t.Timeout()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		defer running.Store(false)
		defer func() {
			if v := recover(); v != nil {
				observe.LogPanic(h.log, "health check "+c.Name(), v)
				done <- fmt.Errorf("check panicked: %v", v)
			}
		}()
		done <- c.Check(ctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		// A check that ignores its context is abandoned, not waited for.
		err = fmt.Errorf("timed out after %v", timeout)
	}
	res.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	res.Status = "ok"
	state.observe(h.log, c.Name(), h.logEvery, err)
	if err != nil {
		res.Status = "fail"
		res.Error = h.maybe(err.Error())
	}
	return res
}

var errStillRunning = errors.New("an earlier run has not returned")

// maybe returns msg, shortened, when errors are shown, else "".
func (h *Health) maybe(msg string) string {
	if !h.showErrors {
		return ""
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

func (h *Health) live(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (h *Health) ready(c echo.Context) error {
	r := h.Run(c.Request().Context())
	status := http.StatusOK
	if r.Status != "ok" {
		status = http.StatusServiceUnavailable
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(status, r)
}

// Handlers returns the live and ready endpoints as plain http.Handlers,
// answering as the server's do: for another listener (see [AdminHealth]).
func (h *Health) Handlers() (live, ready http.Handler) {
	e := echo.New()
	serve := func(f echo.HandlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := e.NewContext(r, w)
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set(echo.HeaderAllow, "GET, HEAD")
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			if err := f(c); err != nil {
				h.log.Warn("health: write the response", zap.Error(err))
			}
		})
	}
	return serve(h.live), serve(h.ready)
}
