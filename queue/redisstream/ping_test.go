package redisstream_test

import (
	"errors"
	"testing"
	"time"

	"github.com/apexgo/apex/queue/port"
	"github.com/apexgo/apex/queue/queuetest"
	"github.com/apexgo/apex/queue/redisstream"
)

// Ping (the module's readiness check) fails while Redis is down and
// passes again once it is back; calls fail instead of hanging.
func TestPingFollowsTheServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	t.Parallel()
	srv := startRedis(t)
	c := connect(t, srv.addr())
	q, err := redisstream.New(c, redisstream.Config{Prefix: queuetest.Prefix(), CommandTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	if err := q.Ping(t.Context()); err != nil {
		t.Fatalf("Ping with the server up: %v", err)
	}
	srv.stop()
	start := time.Now()
	if err := q.Ping(t.Context()); err == nil {
		t.Fatal("Ping with the server down succeeded")
	}
	if _, err := q.Status(t.Context(), "q.x"); err == nil || errors.Is(err, port.ErrNotFound) {
		t.Fatalf("Status with the server down: %v; want a store error", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("calls with the server down took %v", took)
	}
	srv.start()
	deadline := time.Now().Add(10 * time.Second)
	for q.Ping(t.Context()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("Ping did not recover after the server came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	if _, err := redisstream.New(nil, redisstream.Config{}); err == nil {
		t.Fatal("nil client accepted")
	}
}
