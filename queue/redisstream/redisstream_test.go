package redisstream_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/httpx/httpxtest"
	"github.com/apexgo/apex/internal/testservice"
	"github.com/apexgo/apex/queue"
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

// newBackend returns backends whose reclaim comes soon enough for the
// suite's crash and stop tests (3 heartbeats, 750ms), yet not so soon that
// a heartbeat delayed by a loaded machine hands a running job to the
// other worker of TestShared.
func newBackend(c rueidis.Client) queuetest.NewBackend {
	return func(t *testing.T, prefix string) port.Queue {
		q, err := redisstream.New(c, redisstream.Config{Prefix: prefix, Heartbeat: 250 * time.Millisecond})
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

// A delivery token naming another queue's stream is refused: settling it
// would ack (and delete) that queue's entry, and on a Cluster cross slots.
func TestSettleRefusesAnotherQueuesToken(t *testing.T) {
	t.Parallel()
	c := connect(t, testservice.Need(t, testservice.Redis))
	prefix := "apex-test-" + queue.NewID("t") + ":"
	q := newBackend(c)(t, prefix)
	ctx := t.Context()
	var ds []port.Delivery
	for _, name := range []string{"a", "b"} {
		if _, err := q.Enqueue(ctx, []port.Message{{ID: queue.NewID(name), Kind: "k", Queue: name, Payload: []byte(`{}`), MaxAttempts: 3}}); err != nil {
			t.Fatal(err)
		}
		got, err := q.Fetch(ctx, port.FetchParams{Queue: name, Max: 1, Wait: time.Second})
		if err != nil || len(got) != 1 {
			t.Fatalf("fetch %s: %v %v", name, got, err)
		}
		ds = append(ds, got[0])
	}
	forged := ds[0]
	forged.Token = strings.SplitN(ds[1].Token, " ", 2)[0] + " " + strings.SplitN(ds[0].Token, " ", 2)[1]
	if err := q.Settle(ctx, []port.Settlement{{Delivery: forged, Outcome: port.Succeed}}); err == nil {
		t.Fatal("a token of queue b settled a job of queue a")
	}
	if err := q.Settle(ctx, []port.Settlement{{Delivery: ds[0], Outcome: port.Succeed}, {Delivery: ds[1], Outcome: port.Succeed}}); err != nil {
		t.Fatalf("settle with the right tokens: %v", err)
	}
}

// The backend's Ping, which the module registers as the "queue" readiness
// check, passes the health-check suite: on the live Redis it passes, on a
// Redis that was stopped it fails promptly.
func TestHealthCheckConformance(t *testing.T) {
	t.Parallel()
	live := connect(t, testservice.Need(t, testservice.Redis))
	s := startRedis(t)
	dead := connect(t, s.addr())
	s.stop()
	httpxtest.Run(t, httpxtest.Features{Down: true}, func(t *testing.T, down bool) httpx.HealthCheck {
		c := live
		if down {
			c = dead
		}
		q, err := redisstream.New(c, redisstream.Config{Prefix: "apex-test-" + queue.NewID("h") + ":", CommandTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = q.Close() })
		return httpx.CheckFunc("queue", q.Ping)
	})
}
