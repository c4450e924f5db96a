package httpx

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/apexgo/apex/observe"
)

// deadline is a request's context with deadline d as the stack makes it:
// the context and its stop.
func deadline(parent context.Context, d time.Time) (context.Context, func()) {
	c := &requestCtx{Context: parent}
	c.setDeadline(d)
	return c, c.stop
}

func waitDone(t *testing.T, ctx context.Context, within time.Duration) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(within):
		t.Fatalf("not done within %v", within)
	}
}

func TestDeadlineCtxEndsAtDeadline(t *testing.T) {
	t.Parallel()
	d := time.Now().Add(50 * time.Millisecond)
	ctx, stop := deadline(context.Background(), d)
	defer stop()
	if got, ok := ctx.Deadline(); !ok || !got.Equal(d) {
		t.Fatalf("deadline %v %v", got, ok)
	}
	if ctx.Err() != nil {
		t.Fatal("ended early")
	}
	waitDone(t, ctx, 2*time.Second)
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		t.Fatalf("err %v, cause %v", ctx.Err(), context.Cause(ctx))
	}
}

// A handler that only checks Err sees the deadline without a timer, and a
// Done asked for later is already closed.
func TestDeadlineCtxErrWithoutDone(t *testing.T) {
	t.Parallel()
	ctx, stop := deadline(context.Background(), time.Now().Add(10*time.Millisecond))
	defer stop()
	time.Sleep(20 * time.Millisecond)
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("err %v", ctx.Err())
	}
	select {
	case <-ctx.Done():
	default:
		t.Fatal("Done open after Err reported the deadline")
	}
}

func TestDeadlineCtxFollowsParent(t *testing.T) {
	t.Parallel()
	for _, armed := range []bool{false, true} {
		parent, cancel := context.WithCancel(context.WithValue(context.Background(), ctxTestKey{}, "v"))
		ctx, stop := deadline(parent, time.Now().Add(time.Hour))
		if ctx.Value(ctxTestKey{}) != "v" {
			t.Fatal("parent's values lost")
		}
		if armed {
			_ = ctx.Done()
		}
		cancel()
		waitDone(t, ctx, 2*time.Second)
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Fatalf("armed=%v: err %v", armed, ctx.Err())
		}
		stop()
	}
}

type ctxTestKey struct{}

// The request's end cancels the context, as WithDeadline's cancel does.
func TestDeadlineCtxStop(t *testing.T) {
	t.Parallel()
	ctx, stop := deadline(context.Background(), time.Now().Add(time.Hour))
	done := ctx.Done()
	stop()
	<-done
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("err %v", ctx.Err())
	}
	stop() // twice is harmless
}

// Derived contexts and context.AfterFunc end with it; unregistering works.
func TestDeadlineCtxDerived(t *testing.T) {
	t.Parallel()
	ctx, stop := deadline(context.Background(), time.Now().Add(30*time.Millisecond))
	defer stop()
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	other, cancelOther := context.WithCancel(ctx)
	cancelOther() // unregisters before the end
	ran := make(chan struct{})
	context.AfterFunc(ctx, func() { close(ran) })
	unregistered := context.AfterFunc(ctx, func() { t.Error("unregistered func ran") })
	if !unregistered() {
		t.Fatal("could not unregister")
	}
	waitDone(t, child, 2*time.Second)
	if !errors.Is(child.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(child), context.DeadlineExceeded) {
		t.Fatalf("child err %v, cause %v", child.Err(), context.Cause(child))
	}
	if !errors.Is(other.Err(), context.Canceled) {
		t.Fatalf("other %v", other.Err())
	}
	select {
	case <-ran:
	case <-time.After(2 * time.Second):
		t.Fatal("AfterFunc did not run")
	}
	// Registered after the end: runs at once.
	late := make(chan struct{})
	context.AfterFunc(ctx, func() { close(late) })
	<-late
}

// An earlier parent deadline wins: the parent governs alone, with no
// timer or deadline of the request's own.
func TestDeadlineCtxParentEarlier(t *testing.T) {
	t.Parallel()
	parent, cancel := context.WithTimeout(context.Background(), time.Minute)
	ctx, stop := deadline(parent, time.Now().Add(time.Hour))
	defer stop()
	pd, _ := parent.Deadline()
	if d, ok := ctx.Deadline(); !ok || !d.Equal(pd) {
		t.Fatalf("deadline %v %v, parent's %v", d, ok, pd)
	}
	if ctx.Done() != parent.Done() {
		t.Fatal("Done is not the parent's")
	}
	if c := ctx.(*requestCtx); c.timed || c.inner.Load() != nil {
		t.Fatal("made a deadline of its own")
	}
	cancel()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("err %v", ctx.Err())
	}
}

// Without http.timeout the context is its parent's, plus the scope: Done,
// Err and Deadline are the parent's, stop does nothing, and contexts
// derived from it register with the parent's cancelCtx (no goroutine).
func TestRequestCtxWithoutDeadline(t *testing.T) {
	t.Parallel()
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), ctxTestKey{}, "v"))
	ctx := &requestCtx{Context: parent, scope: observe.NewScope(zap.NewNop(), "id-1")}
	if _, ok := ctx.Deadline(); ok || ctx.Done() != parent.Done() || ctx.Err() != nil {
		t.Fatal("not the parent's deadline, Done and Err")
	}
	if observe.RequestID(ctx) != "id-1" || ctx.Value(ctxTestKey{}) != "v" {
		t.Fatalf("request ID %q, parent's value %v", observe.RequestID(ctx), ctx.Value(ctxTestKey{}))
	}
	ctx.stop()
	if ctx.Err() != nil {
		t.Fatal("stop ended a context without deadline")
	}
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	cancel()
	waitDone(t, child, 2*time.Second)
	if !errors.Is(ctx.Err(), context.Canceled) || !errors.Is(child.Err(), context.Canceled) {
		t.Fatalf("err %v, child %v", ctx.Err(), child.Err())
	}
}

// The scope is found whether or not the deadline was armed.
func TestRequestCtxScope(t *testing.T) {
	t.Parallel()
	for _, armed := range []bool{false, true} {
		ctx := &requestCtx{Context: context.Background(), scope: observe.NewScope(zap.NewNop(), "id-2")}
		ctx.setDeadline(time.Now().Add(time.Hour))
		if armed {
			_ = ctx.Done()
		}
		valued := context.WithValue(ctx, ctxTestKey{}, "v")
		if observe.RequestID(valued) != "id-2" || observe.RequestID(ctx) != "id-2" {
			t.Fatalf("armed=%v: request ID %q", armed, observe.RequestID(valued))
		}
		ctx.stop()
	}
}

func TestDeadlineCtxConcurrent(t *testing.T) {
	t.Parallel()
	for range 20 {
		ctx, stop := deadline(context.Background(), time.Now().Add(time.Millisecond))
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				switch i % 4 {
				case 0:
					<-ctx.Done()
				case 1:
					_ = ctx.Err()
				case 2:
					c, cancel := context.WithCancel(ctx)
					<-c.Done()
					cancel()
				case 3:
					time.Sleep(time.Millisecond)
					stop()
				}
			})
		}
		wg.Wait()
		if ctx.Err() == nil {
			t.Fatal("not ended")
		}
	}
}

// Contexts derived from it, also through WithValue (as middleware adds
// values), register with it like with WithDeadline's: no goroutine each.
// Not parallel: it counts the process's goroutines.
func TestDeadlineCtxDerivedWithoutGoroutines(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()
	ctx, stop := deadline(parent, time.Now().Add(time.Hour))
	defer stop()
	valued := context.WithValue(ctx, ctxTestKey{}, "v")
	before := runtime.NumGoroutine()
	var cancels []context.CancelFunc
	for range 100 {
		c, cancel := context.WithTimeout(valued, time.Hour)
		cancels = append(cancels, cancel)
		_ = c.Done()
	}
	if n := runtime.NumGoroutine() - before; n > 10 {
		t.Errorf("%d goroutines for 100 derived contexts", n)
	}
	for _, c := range cancels {
		c()
	}
	child, cancel := context.WithCancel(valued)
	defer cancel()
	stop()
	waitDone(t, child, 2*time.Second)
	if !errors.Is(child.Err(), context.Canceled) || child.Value(ctxTestKey{}) != "v" {
		t.Fatalf("child %v, value %v", child.Err(), child.Value(ctxTestKey{}))
	}
}

// Stopped before anything asked for Done: Done is closed, Err says why.
func TestDeadlineCtxStopBeforeDone(t *testing.T) {
	t.Parallel()
	ctx, stop := deadline(context.Background(), time.Now().Add(time.Hour))
	stop()
	<-ctx.Done()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("err %v", ctx.Err())
	}
	ctx, stop = deadline(context.Background(), time.Now().Add(time.Millisecond))
	time.Sleep(5 * time.Millisecond)
	stop()
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("expired then stopped: %v", ctx.Err())
	}
}
