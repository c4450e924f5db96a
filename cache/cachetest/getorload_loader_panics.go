package cachetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/cache/port"
)

// TestGetOrLoadLoaderPanics checks that a loader that panics fails every waiter with an error wrapping ErrLoaderPanic and the panic value, and is not cached.
func TestGetOrLoadLoaderPanics(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	boom := errors.New("loader exploded")
	release := make(chan struct{})
	loading := make(chan struct{})
	var once sync.Once
	panicking := func(context.Context) ([]byte, error) {
		once.Do(func() { close(loading) })
		<-release
		panic(boom)
	}
	const n = 3
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.GetOrLoad(t.Context(), "k", time.Minute, panicking)
			errs <- err
		}()
	}
	select {
	case <-loading:
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("loader not called within 5s")
	}
	time.Sleep(50 * time.Millisecond) // let the others join the load
	close(release)
	for range n {
		select {
		case err := <-errs:
			if !errors.Is(err, boom) || !errors.Is(err, port.ErrLoaderPanic) {
				t.Errorf("GetOrLoad with a panicking loader: got %v, want an error wrapping port.ErrLoaderPanic and the panic value", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("GetOrLoad with a panicking loader did not return within 5s")
		}
	}
	wantMiss(t, c, "k")
	b, err := c.GetOrLoad(t.Context(), "k", time.Minute, func(context.Context) ([]byte, error) { return []byte("ok"), nil })
	if err != nil || string(b) != "ok" {
		t.Fatalf("GetOrLoad after a panicking load: got %q, %v", b, err)
	}
	_, err = c.GetOrLoad(t.Context(), "other", time.Minute, func(context.Context) ([]byte, error) { panic("not an error") })
	if !errors.Is(err, port.ErrLoaderPanic) || !strings.Contains(err.Error(), "not an error") {
		t.Fatalf("GetOrLoad with a loader panicking with a string: got %v, want an error naming the panic value", err)
	}
}
