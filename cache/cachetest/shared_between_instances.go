package cachetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/apexgo/apex/cache/port"
)

// TestSharedBetweenInstances checks, for a backend with Features.Shared,
// that two instances on one prefix (two processes of a service) read
// each other's writes and deletes within a second, whether or not they
// had read the key before.
func TestSharedBetweenInstances(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	if !f.Shared {
		t.Skip("the backend is not shared between instances (Features.Shared is false)")
	}
	prefix := Prefix()
	a, b := newCache(t, prefix), newCache(t, prefix)
	set(t, a, "k", []byte("v1"), time.Minute)
	eventually(t, b, "k", []byte("v1"))
	wantValue(t, b, "k", []byte("v1")) // now possibly held locally by b
	set(t, a, "k", []byte("v2"), time.Minute)
	eventually(t, b, "k", []byte("v2"))
	if err := a.Delete(t.Context(), "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	eventually(t, b, "k", nil)
	set(t, b, "k", []byte("v3"), time.Minute)
	eventually(t, a, "k", []byte("v3"))
}

// eventually polls key in c for up to a second until it holds want (nil:
// a miss).
func eventually(t *testing.T, c port.Cache, key string, want []byte) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		got, err := c.Get(t.Context(), key)
		switch {
		case want == nil && errors.Is(err, port.ErrMiss):
			return
		case err == nil && want != nil && string(got) == string(want):
			return
		case err != nil && !errors.Is(err, port.ErrMiss):
			t.Fatalf("Get %q: %v", key, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("another instance's write of %q: %s", key, fmt.Sprintf("still %s, %v after 1s; want %s", brief(got), err, brief(want)))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
