package redisstream_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/apexgo/apex/internal/testservice"
	"github.com/apexgo/apex/queue/port"
	"github.com/apexgo/apex/queue/queuetest"
	"github.com/apexgo/apex/queue/redisstream"
)

// connect returns a client to addrs, closed at the end of the test.
func connect(t testing.TB, addrs ...string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs, ForceSingleClient: len(addrs) == 1, DisableCache: true})
	if err != nil {
		t.Fatalf("connect to Redis at %v: %v", addrs, err)
	}
	t.Cleanup(c.Close)
	return c
}

// cleanup deletes every key under prefix (never FLUSHALL: the server is shared).
func cleanup(t testing.TB, c rueidis.Client, prefix string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, node := range c.Nodes() {
			var cursor uint64
			for {
				e, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match("{"+prefix+"*").Count(1000).Build()).AsScanEntry()
				if err != nil {
					break
				}
				for _, k := range e.Elements {
					node.Do(ctx, node.B().Del().Key(k).Build())
				}
				if cursor = e.Cursor; cursor == 0 {
					break
				}
			}
		}
	})
}

func newBackend(c rueidis.Client) queuetest.NewBackend {
	return func(t *testing.T, prefix string) port.Queue {
		q, err := redisstream.New(c, redisstream.Config{Prefix: prefix, Heartbeat: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = q.Close() })
		cleanup(t, c, prefix)
		return q
	}
}

func TestConformance(t *testing.T) {
	c := connect(t, testservice.Need(t, testservice.Redis))
	queuetest.Run(t, queuetest.Features{Durable: true, Shared: true}, newBackend(c))
}
