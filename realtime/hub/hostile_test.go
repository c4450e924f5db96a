package hub_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge"

	"github.com/apexgo/apex/realtime/hub"
	"github.com/apexgo/apex/realtime/internal/wsclient"
)

// Hostile frames end the connection with a close code and a reason, and
// the hub keeps serving others.
func TestHostileFrames(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *hub.Config) {
		c.AllowAnonymous = true
		c.Limits.MessageSizeLimit = 4096
		c.Limits.SubscribeRate, c.Limits.SubscribeBurst = 5, 5
	})
	cases := []struct {
		name  string
		op    byte
		frame []byte
		code  int
	}{
		// 1009 is WebSocket's own "message too big": its code is its reason.
		{"oversized", wsclient.OpText, bytes.Repeat([]byte("x"), 10_000), 1009},
		{"malformed JSON", wsclient.OpText, []byte(`{"id":1,"connect":`), int(centrifuge.DisconnectBadRequest.Code)},
		{"not JSON", wsclient.OpText, []byte("\x00\xff garbage"), int(centrifuge.DisconnectBadRequest.Code)},
		{"command before connect", wsclient.OpText, []byte(`{"id":1,"subscribe":{"channel":"room:x"}}`), int(centrifuge.DisconnectBadRequest.Code)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn := s.dial(t, nil)
			if err := conn.WriteFrame(c.op, c.frame); err != nil {
				t.Fatal(err)
			}
			expectClose(t, conn, c.code)
		})
	}
	// The oversized frame is closed by the WebSocket layer before any
	// handler sees it; it is logged and counted all the same, once.
	if got := s.refusals("message_size"); got != 1 {
		t.Fatalf("message_size refusals: %v, want 1", got)
	}
	t.Run("unknown command", func(t *testing.T) {
		conn := s.connect(t, "")
		_ = conn.WriteFrame(wsclient.OpText, []byte(`{"id":7,"launch_missiles":{}}`))
		m, err := conn.Next(wait)
		if err == nil && (m.Error == nil || m.ID != 7) {
			t.Fatalf("unknown command answered %s; want an error reply or a close", m.Raw)
		}
		if err != nil {
			if cl, ok := err.(*wsclient.Close); !ok || cl.Reason == "" {
				t.Fatalf("unknown command: %v; want a close with a reason", err)
			}
		}
	})
	t.Run("subscribe flood", func(t *testing.T) {
		conn := s.connect(t, "")
		for i := range 50 {
			if _, err := conn.Send("subscribe", map[string]any{"channel": fmt.Sprintf("room:%d", i)}); err != nil {
				break // already closed
			}
		}
		expectClose(t, conn, hub.CodeSubscribeFlood)
	})
	// Still serving.
	s.connect(t, "ok:alice")
	if s.refusals("subscribe_rate") != 1 || s.refusals("bad_request") == 0 {
		t.Fatalf("refusals not counted, or the flood counted more than once: subscribe_rate=%v bad_request=%v", s.refusals("subscribe_rate"), s.refusals("bad_request"))
	}
}

// A request body over the message size limit on the HTTP transports
// gets 413, and is logged and counted like the WebSocket's.
func TestOversizedBodyCounted(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *hub.Config) { c.AllowAnonymous = true; c.Limits.MessageSizeLimit = 4096 })
	hs := s.Handlers(nil)
	for name, hd := range map[string]http.Handler{"sse": hs.SSE, "http_stream": hs.HTTPStream, "emulation": hs.Emulation} {
		r := httptest.NewRequest(http.MethodPost, "/"+name, bytes.NewReader(bytes.Repeat([]byte("x"), 10_000)))
		w := httptest.NewRecorder()
		hd.ServeHTTP(w, r)
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s: status %d, want 413", name, w.Code)
		}
	}
	if got := s.refusals("message_size"); got != 3 {
		t.Fatalf("message_size refusals: %v, want 3", got)
	}
}

// A client that stops reading is disconnected once its queue is full;
// a client that reads keeps receiving everything.
func TestSlowClientDropped(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(c *hub.Config) {
		c.Limits.ClientQueueBytes = 64 << 10
		c.Limits.WriteTimeout = 500 * time.Millisecond
	})
	slow := s.connect(t, "ok:slow")
	slow.SetReadBuffer(4096)
	fast := s.connect(t, "ok:fast")
	for _, c := range []*wsclient.Conn{slow, fast} {
		if m, err := c.Call("subscribe", map[string]any{"channel": "room:firehose"}, wait); err != nil || m.Error != nil {
			t.Fatalf("subscribe: %v", err)
		}
	}
	const n = 400
	payload := `{"pad":"` + strings.Repeat("p", 16000) + `"}`
	var got int
	var fastErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for got < n {
			m, err := fast.Next(wait)
			if err != nil {
				fastErr = err
				return
			}
			if m.Push != nil && m.Push.Pub != nil {
				got++
			}
		}
	}()
	for i := range n {
		if _, err := s.Publish(t.Context(), "room:firehose", []byte(payload)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		time.Sleep(2 * time.Millisecond) // a steady stream that a reading client keeps up with
	}
	wg.Wait()
	if got != n {
		t.Fatalf("the fast client got %d of %d: %v", got, n, fastErr)
	}
	deadline := time.Now().Add(wait)
	for s.refusals("slow_client")+s.refusals("write_error") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the slow client was not disconnected")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
