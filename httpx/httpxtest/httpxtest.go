// Package httpxtest is the conformance suite of the [httpx.HealthCheck]
// port. Every health check apex registers runs it (httpx's CheckFunc,
// the Redis ping, data's database pings), and so can a user's own:
//
//	func TestQueueCheck(t *testing.T) {
//		httpxtest.Run(t, httpxtest.Features{Down: true}, func(t *testing.T, down bool) httpx.HealthCheck {
//			addr := startBroker(t) // a real dependency, stopped when the test ends
//			if down {
//				addr = unusedAddr(t)
//			}
//			return newQueueCheck(addr)
//		})
//	}
//
// Each behaviour is also exported on its own (a test function of the same
// shape as Run), one file per behaviour, for a check that must skip one.
package httpxtest

import (
	"testing"

	"github.com/apexgo/apex/httpx"
)

// Features says what the check under test can be made to do.
type Features struct {
	// Down says that newCheck can build the check against a dependency
	// that is down (an unreachable address, a stopped server); the suite
	// then checks that it fails, promptly. Without it those behaviours
	// are skipped.
	Down bool
}

// NewCheck builds the check under test against a working dependency, or
// against one that is down when down is true (only asked when
// [Features].Down is set). It is called once per subtest and should
// register its cleanups with t.
type NewCheck func(t *testing.T, down bool) httpx.HealthCheck

// Run checks the [httpx.HealthCheck] contract: a valid, stable name; a
// working dependency passes, also under concurrent calls; a canceled
// context returns promptly; a dependency that is down fails within its
// context. Every behaviour runs as a parallel subtest.
func Run(t *testing.T, f Features, newCheck NewCheck) {
	for _, b := range []struct {
		name string
		run  func(*testing.T, Features, NewCheck)
	}{
		{"Name", Name},
		{"HealthyPasses", HealthyPasses},
		{"ConcurrentCalls", ConcurrentCalls},
		{"CanceledContextReturnsPromptly", CanceledContextReturnsPromptly},
		{"DownFails", DownFails},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			b.run(t, f, newCheck)
		})
	}
}

// checks returns the check against a working dependency and, when the
// features allow, the one against a dependency that is down.
func checks(t *testing.T, f Features, newCheck NewCheck) []httpx.HealthCheck {
	cs := []httpx.HealthCheck{newCheck(t, false)}
	if f.Down {
		cs = append(cs, newCheck(t, true))
	}
	return cs
}
