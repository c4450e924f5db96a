package httpx

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// deadlineCtx is the request context under http.timeout: it ends at a
// deadline like context.WithDeadline's, but makes that context (its
// timer, its registration with the parent) only when something first asks
// for Done: a handler that selects on it, a database driver, an HTTP
// client, a derived context. Most handlers of a fast API never do, and so
// cost one allocation instead of four and no timer. Until then Err reads
// the clock, so a handler that only checks ctx.Err() still sees
// context.DeadlineExceeded once the deadline has passed.
//
// Once made, the standard context answers everything, Value included:
// contexts derived from this one (directly or through WithValue) find its
// cancelCtx and register with it as they would with WithDeadline's, with
// no goroutine each, and context.Cause works as usual.
type deadlineCtx struct {
	context.Context // the parent
	deadline        time.Time
	inner           atomic.Pointer[armed]

	mu      sync.Mutex
	stopped error // why the request ended before anything asked for Done
}

type armed struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// closed is the Done of a context that ended before it was armed.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

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
	if a := c.inner.Load(); a != nil {
		return a.ctx.Done()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.inner.Load(); a != nil {
		return a.ctx.Done()
	}
	if c.stopped != nil {
		return closed
	}
	ctx, cancel := context.WithDeadline(c.Context, c.deadline)
	c.inner.Store(&armed{ctx, cancel})
	return ctx.Done()
}

func (c *deadlineCtx) Err() error {
	if a := c.inner.Load(); a != nil {
		return a.ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.inner.Load(); a != nil {
		return a.ctx.Err()
	}
	if c.stopped != nil {
		return c.stopped
	}
	return c.check()
}

// check is the error the context would have now: its parent's, or
// DeadlineExceeded once the deadline has passed, else nil.
func (c *deadlineCtx) check() error {
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *deadlineCtx) Value(key any) any {
	if a := c.inner.Load(); a != nil {
		return a.ctx.Value(key)
	}
	return c.Context.Value(key)
}

// stop ends the context when the request is done, as the cancel function
// of context.WithDeadline does: Err is Canceled from then on, unless it
// had already ended.
func (c *deadlineCtx) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.inner.Load(); a != nil {
		a.cancel()
		return
	}
	if c.stopped == nil {
		c.stopped = c.check()
		if c.stopped == nil {
			c.stopped = context.Canceled
		}
	}
}

func (c *deadlineCtx) String() string { return "httpx.requestDeadline" }
