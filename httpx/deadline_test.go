package httpx

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// deadline is withDeadline as a caller sees it: a context and its stop.
func deadline(parent context.Context, d time.Time) (context.Context, func()) {
	if c := withDeadline(parent, d); c != nil {
		return c, c.stop
	}
	return parent, func() {}
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

// An earlier parent deadline wins, without a wrapper.
func TestDeadlineCtxParentEarlier(t *testing.T) {
	t.Parallel()
	parent, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx, stop := deadline(parent, time.Now().Add(time.Hour))
	defer stop()
	if ctx != parent {
		t.Fatal("wrapped a parent that ends first")
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
