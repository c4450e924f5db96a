package redisstream_test

import (
	"testing"

	"github.com/apexgo/apex/queue/queuetest"
)

// The whole suite on a 3-node Redis Cluster that the test starts: every
// key of a queue shares a hash tag and every script declares its keys.
func TestConformanceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	addrs := startCluster(t)
	c := connect(t, addrs...)
	queuetest.Run(t, queuetest.Features{Durable: true, Shared: true}, newBackend(c))
}
