package redisstream

import (
	"time"

	"github.com/apexgo/apex/internal/redisconn"
)

// Defaults of [Config].
const (
	// DefaultGroup is the consumer group of every stream.
	DefaultGroup = "workers"
	// DefaultHeartbeat is how often a process marks its deliveries alive.
	DefaultHeartbeat = 5 * time.Second
	// DefaultCommandTimeout bounds each Redis call.
	DefaultCommandTimeout = redisconn.DefaultCommandTimeout
)
