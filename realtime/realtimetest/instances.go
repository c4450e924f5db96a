package realtimetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/apexgo/apex/realtime/port"
)

// AcrossInstances (Features.Shared): a publication on instance A reaches
// subscribers on B and C exactly once and in order, and presence lists
// subscribers of every instance.
func AcrossInstances(t *testing.T, f Features, newHub NewHub) {
	if !f.Shared {
		t.Skip("backend is not shared between instances")
	}
	a, b, c := newHub(t), newHub(t), newHub(t)
	ch := Channel(Namespace)
	inB, _ := Subscribe(t, b, ch, "bob")
	inC, _ := Subscribe(t, c, ch, "carol")
	Eventually(t, "bob and carol present, seen from A", func() bool {
		cs, err := a.Presence(t.Context(), ch)
		return err == nil && slices.Equal(subjects(cs), []string{"bob", "carol"})
	})
	const n = 100
	for i := range n {
		if _, err := a.Publish(t.Context(), ch, fmt.Appendf(nil, `{"i":%d}`, i)); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	for name, in := range map[string]*Inbox{"B": inB, "C": inC} {
		in.WaitFor(t, fmt.Sprintf("%d publications on %s", n, name), func(p []port.Publication, _, _ []port.Client) bool { return len(p) >= n })
	}
	// Anything duplicated would arrive right behind: publish a marker and
	// wait for it, then check the sequence.
	if _, err := a.Publish(t.Context(), ch, []byte(`{"end":true}`)); err != nil {
		t.Fatal(err)
	}
	for _, in := range []*Inbox{inB, inC} {
		in.WaitFor(t, "the end marker", func(p []port.Publication, _, _ []port.Client) bool { return len(p) >= n+1 })
		pubs := in.Publications()
		checkSequence(t, pubs[:n], ch, n)
		if len(pubs) != n+1 {
			t.Fatalf("got %d publications, want %d", len(pubs), n+1)
		}
	}
}
