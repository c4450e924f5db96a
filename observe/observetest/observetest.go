// Package observetest is the conformance suite of the [port.Alerter] port.
// Every backend in apex runs it, and so can a user's own:
//
//	func TestMyAlerter(t *testing.T) {
//		observetest.Run(t, observetest.Features{Refuses: true}, func(t *testing.T, refuse bool) observetest.Harness {
//			dest := startDestination(t, refuse) // answers 500 when refuse is true
//			return observetest.Harness{Alerter: myalert.New(dest.URL), Received: dest.Alerts}
//		})
//	}
//
// Each behaviour is also exported on its own (a test function of the same
// shape as Run), one file per behaviour.
package observetest

import (
	"testing"
	"time"

	"github.com/apexgo/apex/observe/port"
)

// Features says what the backend under test can be made to do.
type Features struct {
	// Refuses says that newHarness can build the backend against a
	// destination that refuses or cannot be reached; the suite then
	// checks that Alert fails with an error wrapping [port.ErrDelivery].
	// A backend that never fails (logonly) leaves it false.
	Refuses bool
}

// Harness is one backend under test and a view of its destination.
type Harness struct {
	// Alerter is the backend.
	Alerter port.Alerter
	// Received returns every alert the destination has accepted so far,
	// decoded back into an Alert.
	Received func() []port.Alert
}

// NewHarness builds the backend under test, against a working
// destination, or against one that refuses when refuse is true (only
// asked when [Features].Refuses is set). It is called once per subtest and
// should register its cleanups with t.
type NewHarness func(t *testing.T, refuse bool) Harness

// Run checks that the backend honours the [port.Alerter] contract: every
// field delivered, text kept intact, concurrent calls, a canceled context,
// refusals reported as [port.ErrDelivery]. Every behaviour runs as a
// parallel subtest.
func Run(t *testing.T, f Features, newHarness NewHarness) {
	for _, b := range []struct {
		name string
		run  func(*testing.T, Features, NewHarness)
	}{
		{"DeliversEveryField", DeliversEveryField},
		{"KeepsTextIntact", KeepsTextIntact},
		{"ConcurrentCalls", ConcurrentCalls},
		{"CanceledContext", CanceledContext},
		{"RefusalIsErrDelivery", RefusalIsErrDelivery},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			b.run(t, f, newHarness)
		})
	}
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
