package cachetest

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestGetOrLoadFirstCallerCanceled checks that canceling the caller whose load others wait on does not fail the others.
func TestGetOrLoadFirstCallerCanceled(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
	release := make(chan struct{})
	loading := make(chan struct{})
	// Every loader computes the same value and honours its ctx, as a
	// real one (a database query) would.
	load := func(ctx context.Context) ([]byte, error) {
		select {
		case <-release:
			return []byte("v"), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	firstCtx, cancelFirst := context.WithCancel(t.Context())
	defer cancelFirst()
	first := make(chan error, 1)
	go func() {
		_, err := c.GetOrLoad(firstCtx, "k", time.Minute, func(ctx context.Context) ([]byte, error) {
			close(loading)
			return load(ctx)
		})
		first <- err
	}()
	select {
	case <-loading:
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("loader not called within 5s")
	}
	type result struct {
		b   []byte
		err error
	}
	second := make(chan result, 1)
	go func() {
		b, err := c.GetOrLoad(t.Context(), "k", time.Minute, load)
		second <- result{b, err}
	}()
	time.Sleep(100 * time.Millisecond) // let the second caller join the load
	cancelFirst()
	select {
	case err := <-first:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the canceled first caller: got %v, want an error wrapping context.Canceled", err)
		}
	case <-time.After(prompt):
		t.Errorf("the first caller did not return within %v of its cancellation", prompt)
	}
	close(release)
	select {
	case r := <-second:
		if r.err != nil || string(r.b) != "v" {
			t.Fatalf("a waiter with a live ctx, after the first caller was canceled: got %q, %v; want %q", r.b, r.err, "v")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter did not return within 5s of the load's end")
	}
	wantValue(t, c, "k", []byte("v"))
}
