package app

import (
	"context"
	"errors"
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

// State follows the app through its lifecycle. [Module] provides it; with
// [Timeouts] in place it counts the start hooks, so that httpx's /readyz
// answers 503 until the whole app has started, and it runs drain
// functions before any other stop hook, so that the HTTP server finishes
// its in-flight requests while the databases and clients they use are
// still open, whatever order the hooks were registered in.
type State struct {
	total, done atomic.Int64
	mu          sync.Mutex
	drains      []func(context.Context) error
	drained     bool
}

// Started reports whether every start hook registered so far has
// succeeded. Without [Timeouts] nothing is counted and it reports true.
func (s *State) Started() bool { return s.done.Load() >= s.total.Load() }

// DrainFirst registers f to run when the app begins to stop, before every
// other stop hook (in reverse order of registration when there are
// several). f must also be reachable from its own stop hook, calling
// [State.Drain], for apps built without [Timeouts].
func (s *State) DrainFirst(f func(context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drains = append(s.drains, f)
}

// Drain runs the drain functions once; later calls return nil at once.
func (s *State) Drain(ctx context.Context) error {
	s.mu.Lock()
	if s.drained {
		s.mu.Unlock()
		return nil
	}
	s.drained = true
	drains := s.drains
	s.mu.Unlock()
	var errs []error
	for i := len(drains) - 1; i >= 0; i-- {
		errs = append(errs, drains[i](ctx))
	}
	return errors.Join(errs...)
}

type budgetLifecycle struct {
	lc          fx.Lifecycle
	start, stop *budget
	state       *State
}

func newBudgetLifecycle(lc fx.Lifecycle, sc ServiceConfig, st *State) fx.Lifecycle {
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
			return errors.Join(b.state.Drain(ctx), f(ctx))
		}
	}
	b.lc.Append(h)
}
