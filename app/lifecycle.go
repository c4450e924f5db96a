package app

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
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
	key      string // service.start_timeout or service.stop_timeout
	once     sync.Once
	deadline time.Time
}

// errBudget is the cause of a hook context that ended with its budget.
var errBudget = errors.New("budget spent")

func (b *budget) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	b.once.Do(func() { b.deadline = time.Now().Add(b.d) })
	return context.WithDeadlineCause(ctx, b.deadline, errBudget)
}

// run calls hook with the budget's context and names the hook in its
// error, and the setting when the budget ran out.
func (b *budget) run(ctx context.Context, stage, owner string, hook func(context.Context) error) error {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	err := hook(ctx)
	if err == nil {
		return nil
	}
	if context.Cause(ctx) == errBudget {
		err = fmt.Errorf("%s (%s): the %s did not finish within %v: %w", b.key, EnvName(b.key), stage, b.d, err)
	}
	return &HookError{Stage: stage, Hook: owner, Err: err}
}

// HookError is the error of a lifecycle hook that failed under [Timeouts]:
// it names the hook. When the start or stop budget ran out, Err says so
// and names the setting (service.start_timeout, APP_SERVICE__START_TIMEOUT).
type HookError struct {
	// Stage is "start" or "stop".
	Stage string
	// Hook is the function that appended the hook, such as
	// "github.com/apexgo/apex/httpx.newServer" (its package path tells
	// the module), or the hook function itself when fx appended it; ""
	// when neither is known.
	Hook string
	// Err is what the hook returned, wrapped when the budget ran out.
	Err error
}

// Error is Err's text followed by the hook's name.
func (e *HookError) Error() string {
	if e.Hook == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("%s (%s hook of %s)", e.Err, e.Stage, e.Hook)
}

// Unwrap returns Err.
func (e *HookError) Unwrap() error { return e.Err }

// hookOwner names the function that called Append, skip frames up, or
// else fn itself; fx's and reflect's own functions name nothing useful.
func hookOwner(skip int, fn any) string {
	internal := func(name string) bool {
		return name == "" || strings.HasPrefix(name, "go.uber.org/fx") || strings.HasPrefix(name, "go.uber.org/dig") || strings.HasPrefix(name, "reflect.")
	}
	if pc, _, _, ok := runtime.Caller(skip + 1); ok {
		if f := runtime.FuncForPC(pc); f != nil && !internal(f.Name()) {
			return f.Name()
		}
	}
	if f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()); f != nil && !internal(f.Name()) {
		return f.Name()
	}
	return ""
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
	return &budgetLifecycle{
		lc:    lc,
		start: &budget{d: sc.StartTimeout, key: "service.start_timeout"},
		stop:  &budget{d: sc.StopTimeout, key: "service.stop_timeout"},
		state: st,
	}
}

func (b *budgetLifecycle) Append(h fx.Hook) {
	if f := h.OnStart; f != nil {
		owner := hookOwner(1, f)
		b.state.total.Add(1)
		h.OnStart = func(ctx context.Context) error {
			if err := b.start.run(ctx, "start", owner, f); err != nil {
				return err
			}
			b.state.done.Add(1)
			return nil
		}
	}
	if f := h.OnStop; f != nil {
		owner := hookOwner(1, f)
		h.OnStop = func(ctx context.Context) error {
			return b.stop.run(ctx, "stop", owner, func(ctx context.Context) error {
				return errors.Join(b.state.Drain(ctx), f(ctx))
			})
		}
	}
	b.lc.Append(h)
}
