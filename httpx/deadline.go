package httpx

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/apexgo/apex/observe"
)

// requestCtx is a request's context under the stack, everything the stack
// gives a request in one allocation: observe's scope (logger and request
// ID), the value of the response's request ID header, and under
// http.timeout the request's deadline. It also answers the
// [ContextValue]s, from the request's echo.Context.
//
// The deadline ends it like context.WithDeadline's, but the standard
// context (its timer, its registration with the parent) is made only when
// something first asks for Done: a handler that selects on it, a database
// driver, an HTTP client, a derived context. Most handlers of a fast API
// never do, and so cost no timer. Until then Err reads the clock, so a
// handler that only checks ctx.Err() still sees context.DeadlineExceeded
// once the deadline has passed.
//
// Once made, the standard context answers everything but observe's scope,
// the cancellation key included: contexts derived from this one (directly
// or through WithValue) find its cancelCtx and register with it as they
// would with WithDeadline's, with no goroutine each, and context.Cause
// works as usual. Without a deadline Deadline, Done and Err are the
// parent's.
type requestCtx struct {
	context.Context // the parent
	scope           observe.Scope

	// ids is the response's request ID header value, idBuf the characters
	// of a generated ID (ids[0] then points into it; never written again).
	ids   [1]string
	idBuf [requestIDLen]byte

	values []ContextValue
	echo   echo.Context // set with values

	timed    bool // deadline is set
	deadline time.Time
	inner    atomic.Pointer[armed]

	mu      sync.Mutex
	stopped error // why the request ended before anything asked for Done
}

type armed struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// closed is the Done of a context that ended before it was armed.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// setDeadline makes the context end at d, unless the parent's own deadline
// comes first (the parent then governs alone); it reports whether it did.
// Call it before the context is shared; the request calls stop when done.
func (c *requestCtx) setDeadline(d time.Time) bool {
	if pd, ok := c.Context.Deadline(); ok && !pd.After(d) {
		return false
	}
	c.timed, c.deadline = true, d
	return true
}

func (c *requestCtx) Deadline() (time.Time, bool) {
	if !c.timed {
		return c.Context.Deadline()
	}
	return c.deadline, true
}

func (c *requestCtx) Done() <-chan struct{} {
	if !c.timed {
		return c.Context.Done()
	}
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

func (c *requestCtx) Err() error {
	if !c.timed {
		return c.Context.Err()
	}
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
func (c *requestCtx) check() error {
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *requestCtx) Value(key any) any {
	if v, ok := c.scope.Lookup(key); ok {
		return v
	}
	for _, v := range c.values {
		if v.Key == key {
			return v.Value(c.echo)
		}
	}
	if c.timed {
		if a := c.inner.Load(); a != nil {
			return a.ctx.Value(key)
		}
	}
	return c.Context.Value(key)
}

// stop ends the context when the request is done, as the cancel function
// of context.WithDeadline does: Err is Canceled from then on, unless it
// had already ended. Without a deadline it does nothing: the parent ends
// with the request.
func (c *requestCtx) stop() {
	if !c.timed {
		return
	}
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

func (c *requestCtx) String() string { return "httpx.request" }
