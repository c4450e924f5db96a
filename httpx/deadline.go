package httpx

import (
	"context"
	"sync"
	"time"
)

// deadlineCtx is the request context under http.timeout: it ends at a
// deadline like context.WithDeadline's, but arms its timer only when
// something first asks for Done (a handler that selects on it, a database
// driver, an HTTP client, context.WithCancel and friends). Most handlers
// of a fast API never do, and so cost no timer, no registration with the
// parent and no extra allocations per request. Err reads the clock
// instead, so a handler that only checks ctx.Err() still sees
// context.DeadlineExceeded once the deadline has passed.
//
// It implements the afterFuncer interface the context package looks for,
// so that contexts derived from it register with it instead of starting
// a goroutine each.
type deadlineCtx struct {
	context.Context // the parent; Value is its
	deadline        time.Time

	mu    sync.Mutex
	done  chan struct{} // made by the first Done; closed when err is set
	err   error
	timer *time.Timer
	stopP func() bool // unregisters from the parent's cancellation
	funcs map[*afterFunc]struct{}
}

type afterFunc struct{ f func() }

// withDeadline returns a context ending at d, or nil when the parent's
// own deadline comes first (the parent then governs alone). The request
// calls stop on it when done.
func withDeadline(parent context.Context, d time.Time) *deadlineCtx {
	if pd, ok := parent.Deadline(); ok && !pd.After(d) {
		return nil
	}
	return &deadlineCtx{Context: parent, deadline: d}
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *deadlineCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	if c.err == nil {
		c.checkLocked() // with done still nil: nothing to close yet
	}
	c.done = make(chan struct{})
	if c.err != nil {
		close(c.done)
		return c.done
	}
	c.timer = time.AfterFunc(time.Until(c.deadline), func() { c.cancel(context.DeadlineExceeded) })
	if c.Context.Done() != nil {
		c.stopP = context.AfterFunc(c.Context, func() { c.cancel(c.Context.Err()) })
	}
	return c.done
}

func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.checkLocked()
	}
	return c.err
}

// checkLocked ends c if its parent has ended or its deadline has passed.
func (c *deadlineCtx) checkLocked() {
	if err := c.Context.Err(); err != nil {
		c.endLocked(err)
	} else if !time.Now().Before(c.deadline) {
		c.endLocked(context.DeadlineExceeded)
	}
}

func (c *deadlineCtx) cancel(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.endLocked(err)
	}
}

// endLocked sets err, closes done if it exists, stops the timer and runs
// what was registered with AfterFunc.
func (c *deadlineCtx) endLocked(err error) {
	c.err = err
	if c.done != nil {
		close(c.done)
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.stopP != nil {
		c.stopP()
	}
	for a := range c.funcs {
		go a.f()
	}
	c.funcs = nil
}

// stop ends the context when the request is done, as the cancel function
// of context.WithDeadline does.
func (c *deadlineCtx) stop() { c.cancel(context.Canceled) }

// AfterFunc runs f in its own goroutine once c ends (at once if it has),
// and returns a function that unregisters f, reporting whether it did so
// before f was started. The context package uses it for contexts derived
// from c.
func (c *deadlineCtx) AfterFunc(f func()) func() bool {
	c.Done() // arm the timer: whoever registers waits for the end
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		go f()
		return func() bool { return false }
	}
	a := &afterFunc{f: f}
	if c.funcs == nil {
		c.funcs = make(map[*afterFunc]struct{})
	}
	c.funcs[a] = struct{}{}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.funcs[a]
		delete(c.funcs, a)
		return ok
	}
}

func (c *deadlineCtx) String() string { return "httpx.requestDeadline" }
