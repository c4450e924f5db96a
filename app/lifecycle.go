package app

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/fx"
)

// MaxTimeout bounds service.start_timeout and service.stop_timeout. It is
// also fx's own outer timeout when [Timeouts] is used, the last resort for
// a hook that ignores its context.
const MaxTimeout = 5 * time.Minute

// Timeouts applies service.start_timeout and service.stop_timeout to every
// lifecycle hook: each OnStart hook's context ends at the start budget's
// deadline, counted from the first hook, and each OnStop hook's at the stop
// budget's. It decorates fx.Lifecycle, so it must be given at the root of
// fx.New, not inside a module; apex.Modules includes it.
var Timeouts = fx.Options(
	fx.StartTimeout(MaxTimeout),
	fx.StopTimeout(MaxTimeout),
	fx.Decorate(newBudgetLifecycle),
)

type budget struct {
	d        time.Duration
	once     sync.Once
	deadline time.Time
}

func (b *budget) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	b.once.Do(func() { b.deadline = time.Now().Add(b.d) })
	return context.WithDeadline(ctx, b.deadline)
}

// StartState tells whether every OnStart hook has run. [Module] provides
// it; with [Timeouts] in place it counts the hooks, and httpx's /readyz
// answers 503 until the whole app has started, so a server that starts
// listening before a later module is ready receives no traffic.
type StartState struct {
	total, done atomic.Int64
}

// Started reports whether every start hook registered so far has
// succeeded. Without [Timeouts] nothing is counted and it reports true.
func (s *StartState) Started() bool { return s.done.Load() >= s.total.Load() }

type budgetLifecycle struct {
	lc          fx.Lifecycle
	start, stop *budget
	state       *StartState
}

func newBudgetLifecycle(lc fx.Lifecycle, sc ServiceConfig, st *StartState) fx.Lifecycle {
	return &budgetLifecycle{lc: lc, start: &budget{d: sc.StartTimeout}, stop: &budget{d: sc.StopTimeout}, state: st}
}

func (b *budgetLifecycle) Append(h fx.Hook) {
	if f := h.OnStart; f != nil {
		b.state.total.Add(1)
		h.OnStart = func(ctx context.Context) error {
			ctx, cancel := b.start.bound(ctx)
			defer cancel()
			if err := f(ctx); err != nil {
				return err
			}
			b.state.done.Add(1)
			return nil
		}
	}
	if f := h.OnStop; f != nil {
		h.OnStop = func(ctx context.Context) error {
			ctx, cancel := b.stop.bound(ctx)
			defer cancel()
			return f(ctx)
		}
	}
	b.lc.Append(h)
}
