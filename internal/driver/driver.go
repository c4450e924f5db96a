// Package driver resolves the driver setting that every Redis-backed apex
// module has (`<section>.driver`: auto, redis or memory) to a backend, in
// one place, with one message for a driver that cannot be honoured.
package driver

import (
	"fmt"

	"github.com/redis/rueidis"

	"github.com/apexgo/apex/app"
)

// The values of a `<section>.driver` setting.
const (
	// Auto picks Redis when the process has a Redis client (redis.addr or
	// redis.addrs is set) and process memory otherwise.
	Auto = "auto"
	// Redis requires the process's Redis client: without one the start fails.
	Redis = "redis"
	// Memory keeps state in process memory, whether Redis is configured or not.
	Memory = "memory"
)

// UseRedis reports whether the module whose driver setting is key (for
// example "cache.driver") and has value should use its Redis backend,
// given the process's client (nil without Redis). Driver redis without a
// client, or an unknown value, is an error naming the setting and the
// environment variables that fix it: a configured backend is never
// silently swapped for another.
func UseRedis(key, value string, client rueidis.Client) (bool, error) {
	switch value {
	case Memory:
		return false, nil
	case Auto, "":
		return client != nil, nil
	case Redis:
		if client == nil {
			return false, fmt.Errorf("%s is redis but Redis is not configured: set redis.addr (%s) or redis.addrs (%s)",
				key, app.EnvName("redis.addr"), app.EnvName("redis.addrs"))
		}
		return true, nil
	}
	return false, fmt.Errorf("%s (%s): unknown driver %q; use auto, redis or memory", key, app.EnvName(key), value)
}
