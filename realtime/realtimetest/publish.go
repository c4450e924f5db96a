package realtimetest

import (
	"fmt"
	"testing"

	"github.com/apexgo/apex/realtime/port"
)

// PublishDelivers: a subscriber receives every publication exactly once,
// in order, with increasing offsets in a channel with history.
func PublishDelivers(t *testing.T, _ Features, newHub NewHub) {
	h := newHub(t)
	ch := Channel(Namespace)
	in, _ := Subscribe(t, h, ch, "")
	const n = 50
	var last uint64
	for i := range n {
		pos, err := h.Publish(t.Context(), ch, fmt.Appendf(nil, `{"i":%d}`, i))
		if err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
		if pos.Offset <= last || pos.Epoch == "" {
			t.Fatalf("Publish %d: position %+v after offset %d; want increasing offsets with an epoch", i, pos, last)
		}
		last = pos.Offset
	}
	in.WaitFor(t, fmt.Sprintf("%d publications", n), func(p []port.Publication, _, _ []port.Client) bool { return len(p) >= n })
	checkSequence(t, in.Publications(), ch, n)
}

func checkSequence(t *testing.T, pubs []port.Publication, ch string, n int) {
	t.Helper()
	if len(pubs) != n {
		t.Fatalf("got %d publications, want exactly %d", len(pubs), n)
	}
	for i, p := range pubs {
		if want := fmt.Sprintf(`{"i":%d}`, i); string(p.Data) != want || p.Channel != ch {
			t.Fatalf("publication %d = %s in %q; want %s in %q (in order, once)", i, p.Data, p.Channel, want, ch)
		}
		if i > 0 && p.Offset != pubs[i-1].Offset+1 {
			t.Fatalf("publication %d has offset %d after %d; want consecutive offsets", i, p.Offset, pubs[i-1].Offset)
		}
	}
}

// PublishToUser: a publication to a subject reaches a subscriber of the
// subject's user channel, and not another subject's.
func PublishToUser(t *testing.T, _ Features, newHub NewHub) {
	h := newHub(t)
	alice := "alice-" + Channel("x")[2:]
	in, _ := Subscribe(t, h, UserNamespace+":"+alice, alice)
	other, _ := Subscribe(t, h, UserNamespace+":bob-"+alice, "bob")
	if err := h.PublishToUser(t.Context(), alice, []byte(`{"hello":"alice"}`)); err != nil {
		t.Fatalf("PublishToUser: %v", err)
	}
	in.WaitFor(t, "the user publication", func(p []port.Publication, _, _ []port.Client) bool { return len(p) == 1 })
	if got := string(in.Publications()[0].Data); got != `{"hello":"alice"}` {
		t.Fatalf("got %s", got)
	}
	if n := len(other.Publications()); n != 0 {
		t.Fatalf("another subject's channel got %d publications", n)
	}
	if err := h.PublishToUser(t.Context(), "", []byte(`{}`)); err == nil {
		t.Fatal("PublishToUser with an empty subject: want an error")
	}
}
