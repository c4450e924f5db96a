package realtime_test

import (
	"context"
	"fmt"
	"time"

	"github.com/apexgo/apex/realtime"
	"github.com/apexgo/apex/realtime/hub"
	"github.com/apexgo/apex/realtime/memory"
)

// A hub without fx: publish into a room, read its history, and receive
// publications in process.
func Example() {
	h, err := memory.New(hub.Config{
		AllowAnonymous: true,
		Namespaces: map[string]hub.Namespace{
			"room": {Public: true, Presence: true, HistorySize: 10, HistoryTTL: time.Minute},
		},
	})
	if err != nil {
		panic(err)
	}
	defer h.Shutdown(context.Background())
	ctx := context.Background()

	got := make(chan realtime.Publication, 1)
	sub, err := h.Subscribe(ctx, realtime.SubscribeParams{
		Channel: "room:lobby", Subject: "bot",
		OnPublication: func(p realtime.Publication) { got <- p },
	})
	if err != nil {
		panic(err)
	}
	defer sub.Unsubscribe()

	pos, _ := h.Publish(ctx, "room:lobby", []byte(`{"text":"hello"}`))
	p := <-got
	fmt.Printf("received %s at offset %d (published at %d)\n", p.Data, p.Offset, pos.Offset)

	hist, _ := h.History(ctx, "room:lobby", realtime.HistoryParams{Limit: -1})
	fmt.Println("history:", len(hist.Publications), "publication(s)")

	present, _ := h.Presence(ctx, "room:lobby")
	fmt.Println("present:", present[0].Subject)
	// Output:
	// received {"text":"hello"} at offset 1 (published at 1)
	// history: 1 publication(s)
	// present: bot
}
