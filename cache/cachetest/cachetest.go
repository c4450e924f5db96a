// Package cachetest is the conformance suite of the cache ports: [Run]
// for [port.Cache] and [RunLimiter] for [port.Limiter], both in the shape
// Run(t, features, newBackend). Every backend in apex runs them, and so
// can a user's own:
//
//	func TestMyCache(t *testing.T) {
//		cachetest.Run(t, cachetest.Features{Shared: true}, func(t *testing.T, prefix string) cache.Cache {
//			return mycache.New(client, prefix) // and t.Cleanup to delete prefix's keys
//		})
//	}
//
// The suite isolates every test itself: it makes a unique key prefix per
// test and passes it to newBackend, which must return a backend whose
// keys all start with it (a fresh instance, or the prefix on a shared
// server). Each behaviour is also exported on its own (TestSetGet,
// TestLimiterInvalidLimit, ...), one file each, so that a backend can
// run the ones it needs while it is being written. The tests run in
// parallel.
package cachetest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/apexgo/apex/cache/port"
)

// prompt bounds how long a call whose context has ended may take.
const prompt = time.Second

// Features says what a [port.Cache] backend can do, for [Run].
type Features struct {
	// Shared means that two backends built with the same prefix share
	// their entries, as instances of a service sharing a Redis do. The
	// suite then checks that one reads what the other writes, within a
	// second (invalidations of client-side copies trail writes). False
	// (in-process backends) skips that test.
	Shared bool
}

// NewCache returns a backend whose keys all start with prefix, a string
// unique to the test t that the suite makes; it should delete what it
// stored with t.Cleanup. The suite calls it once per test, and twice with
// one prefix to check Features.Shared.
type NewCache func(t *testing.T, prefix string) port.Cache

// Run checks that the backends newCache returns honour the [port.Cache]
// contract, each behaviour in a parallel subtest.
func Run(t *testing.T, f Features, newCache NewCache) {
	run(t, f, newCache, []behaviour[Features, NewCache]{
		{"GetMissing", TestGetMissing},
		{"SetGet", TestSetGet},
		{"Overwrite", TestOverwrite},
		{"Delete", TestDelete},
		{"TTLExpiry", TestTTLExpiry},
		{"OverwriteResetsTTL", TestOverwriteResetsTTL},
		{"ZeroTTLNeverExpires", TestZeroTTLNeverExpires},
		{"NegativeTTL", TestNegativeTTL},
		{"LargeValue", TestLargeValue},
		{"BinaryKeysAndValues", TestBinaryKeysAndValues},
		{"EmptyValue", TestEmptyValue},
		{"GetOrLoadSingleflight", TestGetOrLoadSingleflight},
		{"GetOrLoadErrorNotCached", TestGetOrLoadErrorNotCached},
		{"GetOrLoadHit", TestGetOrLoadHit},
		{"GetOrLoadStoresWithTTL", TestGetOrLoadStoresWithTTL},
		{"CanceledContext", TestCanceledContext},
		{"GetOrLoadWaiterContextEnds", TestGetOrLoadWaiterContextEnds},
		{"GetOrLoadFirstCallerCanceled", TestGetOrLoadFirstCallerCanceled},
		{"GetOrLoadLoaderPanics", TestGetOrLoadLoaderPanics},
		{"ReturnedSlicesAreCopies", TestReturnedSlicesAreCopies},
		{"ConcurrentUse", TestConcurrentUse},
		{"SharedBetweenInstances", TestSharedBetweenInstances},
	})
}

// behaviour is one exported test of a suite, run under name.
type behaviour[F, N any] struct {
	name string
	test func(*testing.T, F, N)
}

// run runs each behaviour as a subtest.
func run[F, N any](t *testing.T, f F, newBackend N, bs []behaviour[F, N]) {
	for _, b := range bs {
		t.Run(b.name, func(t *testing.T) { b.test(t, f, newBackend) })
	}
}

// Prefix returns a key prefix unique to this run: "cachetest_", 12 random
// hex characters and a colon. The suite gives one to each backend it
// asks for.
func Prefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "cachetest_" + hex.EncodeToString(b[:]) + ":"
}

// open returns a backend for t under a prefix of its own.
func open(t *testing.T, newCache NewCache) port.Cache {
	t.Helper()
	c := newCache(t, Prefix())
	if c == nil {
		t.Fatal("newCache returned nil")
	}
	return c
}

func set(t *testing.T, c port.Cache, key string, value []byte, ttl time.Duration) {
	t.Helper()
	if err := c.Set(t.Context(), key, value, ttl); err != nil {
		t.Fatalf("Set %q: %v", key, err)
	}
}

func wantValue(t *testing.T, c port.Cache, key string, want []byte) {
	t.Helper()
	got, err := c.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get %q: got %s, want %s", key, brief(got), brief(want))
	}
}

func wantMiss(t *testing.T, c port.Cache, key string) {
	t.Helper()
	if got, err := c.Get(t.Context(), key); !errors.Is(err, port.ErrMiss) {
		t.Fatalf("Get %q: got %s, %v; want an error wrapping port.ErrMiss", key, brief(got), err)
	}
}

// waitMiss polls key until it is missing and returns when it first was.
func waitMiss(t *testing.T, c port.Cache, key string, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, err := c.Get(t.Context(), key)
		now := time.Now()
		switch {
		case errors.Is(err, port.ErrMiss):
			return now
		case err != nil:
			t.Fatalf("Get %q: %v", key, err)
		case now.After(deadline):
			t.Fatalf("Get %q: still %s after %v", key, brief(got), within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func brief(b []byte) string {
	if len(b) > 64 {
		return fmt.Sprintf("%q... (%d bytes)", b[:64], len(b))
	}
	return fmt.Sprintf("%q", b)
}
