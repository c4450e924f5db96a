package httpxtest

import (
	"context"
	"testing"
	"time"
)

// CanceledContextReturnsPromptly checks that a check called with a
// canceled context returns within a second, whether its dependency is up
// or down.
func CanceledContextReturnsPromptly(t *testing.T, f Features, newCheck NewCheck) {
	for _, c := range checks(t, f, newCheck) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		_ = c.Check(ctx)
		if took := time.Since(start); took > time.Second {
			t.Fatalf("%s: check with a canceled context took %v", c.Name(), took)
		}
	}
}
