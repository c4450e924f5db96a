// Package observetest is the conformance suite of the [port.Alerter] port.
// Every backend in apex runs it, and so can a user's own:
//
//	func TestMyAlerter(t *testing.T) {
//		observetest.Run(t, func(t *testing.T) observetest.Harness { ... })
//	}
package observetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/observe/port"
)

// Harness is one backend under test and a view of its destination.
type Harness struct {
	// Alerter is the backend.
	Alerter port.Alerter
	// Received returns every alert the destination has accepted so far,
	// decoded back into an Alert.
	Received func() []port.Alert
}

// Run checks that the backend returned by newHarness honours the
// [port.Alerter] contract. newHarness is called once per subtest; it
// should register cleanups with t.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Run("DeliversEveryField", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		want := sample("fields")
		if err := h.Alerter.Alert(context.Background(), want); err != nil {
			t.Fatalf("Alert: %v", err)
		}
		got := waitFor(t, h, 1)
		if !same(got[0], want) {
			t.Fatalf("delivered %+v\nwant      %+v", got[0], want)
		}
	})

	t.Run("KeepsTextIntact", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		want := sample("unicode")
		want.Message = `naïve "quoted" <tag> & 日本語 ` + strings.Repeat("x", 1500)
		want.Error = "line1\nline2\ttab"
		if err := h.Alerter.Alert(context.Background(), want); err != nil {
			t.Fatalf("Alert: %v", err)
		}
		if got := waitFor(t, h, 1); got[0].Message != want.Message || got[0].Error != want.Error {
			t.Fatalf("text changed: %q / %q", got[0].Message, got[0].Error)
		}
	})

	t.Run("ConcurrentCalls", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		const workers, each = 10, 5
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					a := sample(fmt.Sprintf("concurrent-%d-%d", w, i))
					if err := h.Alerter.Alert(context.Background(), a); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Alert: %v", err)
		}
		got := waitFor(t, h, workers*each)
		seen := map[string]bool{}
		for _, a := range got {
			seen[a.Message] = true
		}
		if len(seen) != workers*each {
			t.Fatalf("got %d distinct alerts, want %d", len(seen), workers*each)
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		err := h.Alerter.Alert(ctx, sample("canceled"))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Alert with a canceled context: got %v, want an error wrapping context.Canceled", err)
		}
		if took := time.Since(start); took > time.Second {
			t.Fatalf("Alert with a canceled context took %v", took)
		}
	})
}

func sample(msg string) port.Alert {
	return port.Alert{
		Service:   "orders",
		Env:       "production",
		Level:     "error",
		Message:   msg,
		Error:     "connection refused",
		RequestID: "req-123",
		TraceID:   "4bf92f3577b34da6a3ce929d0e0e4736",
		Time:      time.Date(2026, 11, 21, 10, 30, 0, 123_000_000, time.UTC),
		Count:     3,
	}
}

func same(a, b port.Alert) bool {
	ta, tb := a.Time, b.Time
	a.Time, b.Time = time.Time{}, time.Time{}
	return a == b && ta.Equal(tb)
}

func waitFor(t *testing.T, h Harness, n int) []port.Alert {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := h.Received()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("destination received %d alerts, want %d", len(got), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
