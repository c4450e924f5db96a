package httpxtest

import (
	"context"
	"testing"
	"time"
)

// DownFails checks that a check against a dependency that is down fails,
// and within its context's deadline (2s here) plus a second. It is
// skipped unless [Features].Down is set.
func DownFails(t *testing.T, f Features, newCheck NewCheck) {
	if !f.Down {
		t.Skip("Features.Down is not set: no check against a dependency that is down")
	}
	c := newCheck(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := c.Check(ctx); err == nil {
		t.Fatalf("%s: check against a dependency that is down passed", c.Name())
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("%s: failing check took %v with a 2s context", c.Name(), took)
	}
}
