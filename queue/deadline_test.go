package queue

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDeadlineCtx(t *testing.T) {
	t.Parallel()
	type key struct{}
	base := context.WithValue(context.Background(), key{}, "v")

	c := &deadlineCtx{Context: base, deadline: time.Now().Add(50 * time.Millisecond)}
	if d, ok := c.Deadline(); !ok || !d.Equal(c.deadline) {
		t.Fatalf("Deadline: %v %v", d, ok)
	}
	if c.Value(key{}) != "v" {
		t.Fatal("the base's values are lost")
	}
	if c.Err() != nil {
		t.Fatalf("Err before the deadline: %v", c.Err())
	}
	child, cancel := context.WithCancel(c)
	defer cancel()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done did not close at the deadline")
	}
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err after the deadline: %v", c.Err())
	}
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a child ctx did not end with its parent")
	}
	c.end(context.Canceled) // after the deadline: no change
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err changed by a late cancel: %v", c.Err())
	}

	// No Done asked: Err still reports the deadline, and Done asked
	// later is closed.
	c = &deadlineCtx{Context: base, deadline: time.Now().Add(time.Millisecond)}
	time.Sleep(5 * time.Millisecond)
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err past the deadline without Done: %v", c.Err())
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed past the deadline")
	}

	// Canceled before and after Done is asked.
	c = &deadlineCtx{Context: base, deadline: time.Now().Add(time.Hour)}
	c.end(context.Canceled)
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after cancel")
	}
	if !errors.Is(c.Err(), context.Canceled) {
		t.Fatalf("Err after cancel: %v", c.Err())
	}
	c = &deadlineCtx{Context: base, deadline: time.Now().Add(time.Hour)}
	done := c.Done()
	c.end(context.Canceled)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed by cancel")
	}
	if c.timer.Stop() {
		t.Fatal("the timer outlived the ctx")
	}
}
