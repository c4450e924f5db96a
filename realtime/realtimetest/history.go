package realtimetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/apexgo/apex/realtime/port"
)

// History: what was published is kept in order with its offsets; Since
// returns only what came after a position; Limit 0 returns the position
// alone. With Features.Shared, another instance reads the same history.
func History(t *testing.T, f Features, newHub NewHub) {
	h := newHub(t)
	ch := Channel(Namespace)
	var positions []port.Position
	for i := range 5 {
		pos, err := h.Publish(t.Context(), ch, fmt.Appendf(nil, `{"i":%d}`, i))
		if err != nil {
			t.Fatalf("Publish: %v", err)
		}
		positions = append(positions, pos)
	}
	readers := []port.Hub{h}
	if f.Shared {
		readers = append(readers, newHub(t))
	}
	for r, reader := range readers {
		all, err := reader.History(t.Context(), ch, port.HistoryParams{Limit: -1})
		if err != nil {
			t.Fatalf("reader %d: History: %v", r, err)
		}
		checkSequence(t, all.Publications, ch, 5)
		if all.Position != positions[4] {
			t.Fatalf("reader %d: position %+v, want %+v", r, all.Position, positions[4])
		}
		since, err := reader.History(t.Context(), ch, port.HistoryParams{Limit: -1, Since: &positions[2]})
		if err != nil {
			t.Fatalf("reader %d: History since: %v", r, err)
		}
		if len(since.Publications) != 2 || since.Publications[0].Offset != positions[3].Offset {
			t.Fatalf("reader %d: since %+v got %d publications; want the last 2", r, positions[2], len(since.Publications))
		}
		top, err := reader.History(t.Context(), ch, port.HistoryParams{Limit: 0})
		if err != nil || len(top.Publications) != 0 || top.Position != positions[4] {
			t.Fatalf("reader %d: Limit 0 = %d publications at %+v, %v; want none at %+v", r, len(top.Publications), top.Position, err, positions[4])
		}
	}
}

// NoHistory: a namespace without history answers ErrNoHistory and
// publishes without positions; presence there is ErrNoPresence.
func NoHistory(t *testing.T, _ Features, newHub NewHub) {
	h := newHub(t)
	ch := Channel(PlainNamespace)
	pos, err := h.Publish(t.Context(), ch, []byte(`{}`))
	if err != nil || pos.Offset != 0 {
		t.Fatalf("Publish = %+v, %v; want no position, no error", pos, err)
	}
	if _, err := h.History(t.Context(), ch, port.HistoryParams{Limit: -1}); !errors.Is(err, port.ErrNoHistory) {
		t.Fatalf("History: %v, want ErrNoHistory", err)
	}
	if _, err := h.Presence(t.Context(), ch); !errors.Is(err, port.ErrNoPresence) {
		t.Fatalf("Presence: %v, want ErrNoPresence", err)
	}
}

// BadChannel: invalid channel names are ErrBadChannel everywhere.
func BadChannel(t *testing.T, _ Features, newHub NewHub) {
	h := newHub(t)
	for _, ch := range []string{"", "rtt:has space", "rtt:\x00", "rtt:é", Namespace + ":" + string(make([]byte, 300))} {
		if _, err := h.Publish(t.Context(), ch, []byte(`{}`)); !errors.Is(err, port.ErrBadChannel) {
			t.Errorf("Publish(%q): %v, want ErrBadChannel", ch, err)
		}
		if _, err := h.History(t.Context(), ch, port.HistoryParams{}); !errors.Is(err, port.ErrBadChannel) {
			t.Errorf("History(%q): %v, want ErrBadChannel", ch, err)
		}
		if _, err := h.Presence(t.Context(), ch); !errors.Is(err, port.ErrBadChannel) {
			t.Errorf("Presence(%q): %v, want ErrBadChannel", ch, err)
		}
	}
}
