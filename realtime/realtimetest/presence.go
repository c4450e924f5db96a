package realtimetest

import (
	"slices"
	"testing"

	"github.com/apexgo/apex/realtime/port"
)

func subjects(cs []port.Client) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Subject)
	}
	slices.Sort(out)
	return out
}

// Presence: subscribers are listed with their subjects while subscribed,
// and no longer once they leave.
func Presence(t *testing.T, _ Features, newHub NewHub) {
	h := newHub(t)
	ch := Channel(Namespace)
	_, a := Subscribe(t, h, ch, "alice")
	Subscribe(t, h, ch, "bob")
	Eventually(t, "alice and bob present", func() bool {
		cs, err := h.Presence(t.Context(), ch)
		return err == nil && slices.Equal(subjects(cs), []string{"alice", "bob"})
	})
	a.Unsubscribe()
	Eventually(t, "alice gone", func() bool {
		cs, err := h.Presence(t.Context(), ch)
		return err == nil && slices.Equal(subjects(cs), []string{"bob"})
	})
}

// JoinLeave: a subscriber learns of others joining and leaving.
func JoinLeave(t *testing.T, _ Features, newHub NewHub) {
	h := newHub(t)
	ch := Channel(Namespace)
	in, _ := Subscribe(t, h, ch, "watcher")
	_, b := Subscribe(t, h, ch, "bob")
	in.WaitFor(t, "bob's join", func(_ []port.Publication, joins, _ []port.Client) bool {
		return slices.Contains(subjects(joins), "bob")
	})
	b.Unsubscribe()
	in.WaitFor(t, "bob's leave", func(_ []port.Publication, _, leaves []port.Client) bool {
		return slices.Contains(subjects(leaves), "bob")
	})
}
