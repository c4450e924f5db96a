//go:build race

package redisstream_test

// raceEnabled: the race detector's shadow memory makes RSS meaningless.
const raceEnabled = true
