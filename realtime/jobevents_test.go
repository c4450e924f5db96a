package realtime_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/realtime"
	"github.com/apexgo/apex/realtime/memory"
	"github.com/apexgo/apex/realtime/realtimetest"
)

// The sink pushes the configured statuses to the enqueuing subject's user
// channel and skips the rest.
func TestJobEventSink(t *testing.T) {
	t.Parallel()
	h, err := memory.New(realtimetest.HubConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Shutdown(context.Background()) })
	sink, err := realtime.NewJobEventSink(realtime.JobEventSinkParams{Hub: h})
	if err != nil {
		t.Fatal(err)
	}
	in, _ := realtimetest.Subscribe(t, h, "user:alice", "alice")
	events := []app.JobEvent{
		{ID: "j1", Kind: "report", Status: "running", Subject: "alice"},                   // not pushed by default
		{ID: "j1", Kind: "report", Status: "progress", Progress: 50, Subject: "alice"},    // pushed
		{ID: "j1", Kind: "report", Status: "succeeded", Subject: "alice", At: time.Now()}, // pushed
		{ID: "j2", Kind: "report", Status: "failed", Error: "boom"},                       // no subject
		{ID: "j3", Kind: "report", Status: "dead", Subject: "bob"},                        // someone else
	}
	for _, e := range events {
		sink.JobEvent(t.Context(), e)
	}
	if err := sink.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	realtimetest.Eventually(t, "two job messages", func() bool { return len(in.Publications()) >= 2 })
	time.Sleep(100 * time.Millisecond)
	pubs := in.Publications()
	if len(pubs) != 2 {
		t.Fatalf("alice got %d messages, want 2", len(pubs))
	}
	for i, want := range []string{"progress", "succeeded"} {
		var m realtime.JobMessage
		if err := json.Unmarshal(pubs[i].Data, &m); err != nil {
			t.Fatal(err)
		}
		if m.Type != "job" || m.Job.ID != "j1" || m.Job.Status != want {
			t.Fatalf("message %d = %s; want job j1 %s", i, pubs[i].Data, want)
		}
	}
}

// A full buffer drops events instead of blocking the worker.
func TestJobEventSinkNeverBlocks(t *testing.T) {
	t.Parallel()
	h, err := memory.New(realtimetest.HubConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Shutdown(context.Background()) })
	sink, err := realtime.NewJobEventSink(realtime.JobEventSinkParams{Hub: h, Buffer: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close(context.Background()) })
	done := make(chan struct{})
	go func() {
		for range 10_000 {
			sink.JobEvent(t.Context(), app.JobEvent{ID: "j", Status: "progress", Subject: "alice"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("JobEvent blocked")
	}
}
