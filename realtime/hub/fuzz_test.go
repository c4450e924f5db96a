package hub_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apexgo/apex/realtime/hub"
	"github.com/apexgo/apex/realtime/internal/wsclient"
)

// FuzzFrame sends one arbitrary frame after a connect on a real
// WebSocket: the hub answers, ignores or closes with a code, never
// panics (a panic in a connection's goroutine would end the test
// binary), and keeps accepting connections.
//
//	go test -fuzz FuzzFrame -fuzztime 60s ./realtime/hub/
func FuzzFrame(f *testing.F) {
	for _, seed := range []string{
		`{"id":2,"subscribe":{"channel":"room:a","recover":true,"offset":18446744073709551615,"epoch":"x"}}`,
		`{"id":2,"publish":{"channel":"chat:a","data":{"a":1}}}`,
		`{"id":2,"publish":{"channel":"chat:a","data":}}`,
		`{"id":2,"history":{"channel":"room:a","limit":-1,"since":{"offset":5,"epoch":""}}}`,
		`{"id":2,"presence":{"channel":"room:a"}}`,
		`{"id":2,"refresh":{"token":""}}`,
		`{"id":2,"rpc":{"method":"x","data":null}}`,
		`{"id":2,"send":{"data":"x"}}`,
		`{"id":4294967295,"unsubscribe":{"channel":""}}`,
		`{"id":2,"connect":{}}`,
		"{}\n{}\n{}",
		"\xff\xfe\x00",
		`[1,2,3]`,
	} {
		f.Add([]byte(seed))
	}
	srv := newServer(f, func(c *hub.Config) { c.AllowAnonymous = true })
	f.Fuzz(func(t *testing.T, frame []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := wsclient.Dial(ctx, srv.URL, nil)
		if err != nil {
			t.Fatalf("the hub stopped accepting connections: %v", err)
		}
		defer c.Close()
		if m, err := c.Connect("", time.Second); err != nil || m.Error != nil {
			t.Fatalf("connect: %v", err)
		}
		if err := c.WriteFrame(wsclient.OpText, frame); err != nil {
			return
		}
		for {
			_, err := c.Next(100 * time.Millisecond)
			var cl *wsclient.Close
			if errors.As(err, &cl) {
				if cl.Code == 0 {
					t.Fatalf("closed without a code")
				}
				return
			}
			if err != nil {
				return // quiet: nothing more to read
			}
		}
	})
}
