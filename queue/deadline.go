package queue

import (
	"context"
	"sync"
	"time"
)

// deadlineCtx is an attempt's ctx: its base (which never ends) with the
// attempt's deadline. Unlike context.WithTimeout it starts no timer until
// a handler asks for Done, so a handler that never waits on its ctx
// costs no timer; Err reports the deadline from the clock either way.
type deadlineCtx struct {
	context.Context // the base; its Done is nil
	deadline        time.Time

	mu    sync.Mutex
	done  chan struct{} // made by the first Done
	timer *time.Timer
	err   error
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *deadlineCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		c.expireLocked()
		if c.err != nil {
			close(c.done)
		} else {
			c.timer = time.AfterFunc(time.Until(c.deadline), func() { c.end(context.DeadlineExceeded) })
		}
	}
	return c.done
}

func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && c.expireLocked() && c.done != nil {
		close(c.done)
	}
	return c.err
}

// expireLocked sets err once the deadline passed; it reports whether it did.
func (c *deadlineCtx) expireLocked() bool {
	if c.err == nil && !time.Now().Before(c.deadline) {
		c.err = context.DeadlineExceeded
		c.stopTimer()
		return true
	}
	return false
}

func (c *deadlineCtx) stopTimer() {
	if c.timer != nil {
		c.timer.Stop()
	}
}

// end ends the ctx with err (the first end wins).
func (c *deadlineCtx) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	c.stopTimer()
	if c.done != nil {
		close(c.done)
	}
}

func (c *deadlineCtx) String() string { return "queue.attemptContext" }
