package observetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apexgo/apex/observe/port"
)

// RefusalIsErrDelivery checks that a destination that refuses makes Alert
// fail, within its context, with an error wrapping [port.ErrDelivery]. It
// is skipped unless [Features].Refuses is set.
func RefusalIsErrDelivery(t *testing.T, f Features, newHarness NewHarness) {
	if !f.Refuses {
		t.Skip("Features.Refuses is not set: the backend cannot be made to fail")
	}
	h := newHarness(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := h.Alerter.Alert(ctx, sample("refused"))
	if !errors.Is(err, port.ErrDelivery) {
		t.Fatalf("Alert to a destination that refuses: got %v, want an error wrapping port.ErrDelivery", err)
	}
}
