package observetest

import (
	"context"
	"strings"
	"testing"
)

// DeliversEveryField checks that an alert reaches the destination with
// every field as sent.
func DeliversEveryField(t *testing.T, _ Features, newHarness NewHarness) {
	h := newHarness(t, false)
	want := sample("fields")
	if err := h.Alerter.Alert(context.Background(), want); err != nil {
		t.Fatalf("Alert: %v", err)
	}
	got := waitFor(t, h, 1)
	if !same(got[0], want) {
		t.Fatalf("delivered %+v\nwant      %+v", got[0], want)
	}
}

// KeepsTextIntact checks that non-ASCII, markup-like, long and multi-line
// text arrives unchanged.
func KeepsTextIntact(t *testing.T, _ Features, newHarness NewHarness) {
	h := newHarness(t, false)
	want := sample("unicode")
	want.Message = `naïve "quoted" <tag> & 日本語 ` + strings.Repeat("x", 1500)
	want.Error = "line1\nline2\ttab"
	if err := h.Alerter.Alert(context.Background(), want); err != nil {
		t.Fatalf("Alert: %v", err)
	}
	if got := waitFor(t, h, 1); got[0].Message != want.Message || got[0].Error != want.Error {
		t.Fatalf("text changed: %q / %q", got[0].Message, got[0].Error)
	}
}
