// Package cachetest is the conformance suite of the cache ports: [Run]
// for [cache.Cache] and [RunLimiter] for [cache.Limiter]. Every backend in
// apex runs them, and so can a user's own:
//
//	func TestMyCache(t *testing.T) {
//		cachetest.Run(t, func(t *testing.T) cache.Cache { ... })
//	}
//
//	func TestMyLimiter(t *testing.T) {
//		cachetest.RunLimiter(t, cachetest.LimiterFeatures{}, func(t *testing.T) cache.Limiter { ... })
//	}
//
// The suites' subtests run in parallel; each asks for its own backend,
// which must not share keys with any other (give each a unique key
// prefix) and should clean up after itself with t.Cleanup.
package cachetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cache "github.com/apexgo/apex/cache/port"
)

// prompt bounds how long a call whose context has ended may take.
const prompt = time.Second

// Run checks that the backend returned by newCache honours the
// [cache.Cache] contract. newCache is called once per subtest and must
// return a cache isolated from every other (a fresh instance, or a unique
// key prefix on a shared server); it should register cleanups with t.
func Run(t *testing.T, newCache func(t *testing.T) cache.Cache) {
	t.Run("GetMissing", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		if b, err := c.Get(t.Context(), "absent"); !errors.Is(err, cache.ErrMiss) {
			t.Fatalf("Get of an absent key: got %q, %v; want an error wrapping cache.ErrMiss", b, err)
		}
	})

	t.Run("SetGet", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		set(t, c, "k", []byte("v"), 0)
		wantValue(t, c, "k", []byte("v"))
		set(t, c, "k2", []byte("v2"), time.Hour)
		wantValue(t, c, "k2", []byte("v2"))
		wantValue(t, c, "k", []byte("v"))
	})

	t.Run("Overwrite", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		set(t, c, "k", []byte("first"), time.Hour)
		wantValue(t, c, "k", []byte("first"))
		set(t, c, "k", []byte("second, longer"), time.Hour)
		wantValue(t, c, "k", []byte("second, longer"))
		set(t, c, "k", []byte("3"), 0)
		wantValue(t, c, "k", []byte("3"))
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		set(t, c, "k", []byte("v"), 0)
		set(t, c, "other", []byte("o"), 0)
		wantValue(t, c, "k", []byte("v"))
		if err := c.Delete(t.Context(), "k"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		wantMiss(t, c, "k")
		wantValue(t, c, "other", []byte("o"))
		if err := c.Delete(t.Context(), "k"); err != nil {
			t.Fatalf("Delete of a deleted key: %v", err)
		}
		if err := c.Delete(t.Context(), "never-set"); err != nil {
			t.Fatalf("Delete of an absent key: %v", err)
		}
		set(t, c, "k", []byte("again"), 0)
		wantValue(t, c, "k", []byte("again"))
	})

	t.Run("TTLExpiry", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		const ttl = 100 * time.Millisecond
		start := time.Now()
		set(t, c, "short", []byte("v"), ttl)
		set(t, c, "long", []byte("v"), time.Hour)
		b, err := c.Get(t.Context(), "short")
		if time.Since(start) < ttl/2 && (err != nil || string(b) != "v") {
			t.Fatalf("Get right after Set with ttl %v: got %q, %v", ttl, b, err)
		}
		expired := waitMiss(t, c, "short", ttl+3*time.Second)
		if early := expired.Sub(start); early < ttl {
			t.Fatalf("entry with ttl %v expired after %v", ttl, early)
		}
		wantValue(t, c, "long", []byte("v"))
	})

	t.Run("OverwriteResetsTTL", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		const ttl = 50 * time.Millisecond
		set(t, c, "k", []byte("short"), ttl)
		set(t, c, "k", []byte("forever"), 0)
		set(t, c, "marker", []byte("m"), ttl)
		waitMiss(t, c, "marker", ttl+3*time.Second)
		time.Sleep(ttl / 2) // let any stale expiry of k pass too
		wantValue(t, c, "k", []byte("forever"))
	})

	t.Run("ZeroTTLNeverExpires", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		const ttl = 50 * time.Millisecond
		set(t, c, "forever", []byte("v"), 0)
		set(t, c, "marker", []byte("m"), ttl)
		waitMiss(t, c, "marker", ttl+3*time.Second)
		wantValue(t, c, "forever", []byte("v"))
	})

	t.Run("NegativeTTL", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		if err := c.Set(t.Context(), "k", []byte("v"), -time.Second); !errors.Is(err, cache.ErrInvalidTTL) {
			t.Fatalf("Set with a negative ttl: got %v, want an error wrapping cache.ErrInvalidTTL", err)
		}
		wantMiss(t, c, "k")
		loads := 0
		_, err := c.GetOrLoad(t.Context(), "k", -time.Millisecond, func(context.Context) ([]byte, error) {
			loads++
			return []byte("loaded"), nil
		})
		if !errors.Is(err, cache.ErrInvalidTTL) {
			t.Fatalf("GetOrLoad with a negative ttl: got %v, want an error wrapping cache.ErrInvalidTTL", err)
		}
		if loads != 0 {
			t.Fatalf("GetOrLoad with a negative ttl called the loader %d times", loads)
		}
		wantMiss(t, c, "k")
	})

	t.Run("LargeValue", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		big := make([]byte, 1<<20)
		for i := range big {
			big[i] = byte(i*7 + i>>8)
		}
		set(t, c, "big", big, time.Minute)
		wantValue(t, c, "big", big)
		// A second read may come from a different path (a local copy).
		wantValue(t, c, "big", big)
	})

	t.Run("BinaryKeysAndValues", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		all := make([]byte, 256)
		for i := range all {
			all[i] = byte(i)
		}
		keys := []string{
			"a", "a\x00", "a\x00b", "\x00", "\xff\xfe\xfd", "ключ", "with space", "line\nbreak",
			"glob*?[x]", "{tag}", string(all[1:]), string(all),
		}
		values := [][]byte{
			all, {0}, {0, 0, 0}, []byte("\xff\xfe invalid UTF-8 \xc3\x28"), []byte("a\x00b"),
			[]byte("\r\n$3\r\nfoo\r\n"), []byte("日本語"),
		}
		for i, k := range keys {
			set(t, c, k, values[i%len(values)], time.Minute)
		}
		for i, k := range keys {
			wantValue(t, c, k, values[i%len(values)])
		}
		wantMiss(t, c, "a\x00c")
		wantMiss(t, c, "\x00\x00")
	})

	t.Run("EmptyValue", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		set(t, c, "empty", []byte{}, time.Minute)
		set(t, c, "nil", nil, time.Minute)
		wantValue(t, c, "empty", []byte{})
		wantValue(t, c, "nil", []byte{})
		loads := 0
		for range 2 {
			b, err := c.GetOrLoad(t.Context(), "loaded-empty", time.Minute, func(context.Context) ([]byte, error) {
				loads++
				return []byte{}, nil
			})
			if err != nil || len(b) != 0 {
				t.Fatalf("GetOrLoad of an empty value: got %q, %v", b, err)
			}
		}
		if loads != 1 {
			t.Fatalf("an empty loaded value was loaded %d times, want 1 (empty is a value, not a miss)", loads)
		}
	})

	t.Run("GetOrLoadSingleflight", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		const n = 50
		var loads atomic.Int32
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				<-start
				b, err := c.GetOrLoad(t.Context(), "k", time.Minute, func(context.Context) ([]byte, error) {
					loads.Add(1)
					time.Sleep(200 * time.Millisecond) // let every caller arrive
					return []byte("loaded"), nil
				})
				if err == nil && string(b) != "loaded" {
					err = fmt.Errorf("got %q, want %q", b, "loaded")
				}
				errs <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("GetOrLoad: %v", err)
			}
		}
		if got := loads.Load(); got != 1 {
			t.Fatalf("%d concurrent GetOrLoad calls ran the loader %d times, want 1", n, got)
		}
		wantValue(t, c, "k", []byte("loaded"))
	})

	t.Run("GetOrLoadErrorNotCached", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		boom := errors.New("loader failed")
		loads := 0
		load := func(fail bool) func(context.Context) ([]byte, error) {
			return func(context.Context) ([]byte, error) {
				loads++
				if fail {
					return nil, boom
				}
				return []byte("ok"), nil
			}
		}
		if b, err := c.GetOrLoad(t.Context(), "k", time.Minute, load(true)); !errors.Is(err, boom) {
			t.Fatalf("GetOrLoad with a failing loader: got %q, %v; want an error wrapping the loader's", b, err)
		}
		wantMiss(t, c, "k")
		if b, err := c.GetOrLoad(t.Context(), "k", time.Minute, load(false)); err != nil || string(b) != "ok" {
			t.Fatalf("GetOrLoad after a failed load: got %q, %v", b, err)
		}
		if loads != 2 {
			t.Fatalf("loader ran %d times, want 2: a failed load must not be cached", loads)
		}
		if b, err := c.GetOrLoad(t.Context(), "k", time.Minute, load(true)); err != nil || string(b) != "ok" {
			t.Fatalf("GetOrLoad after a successful load: got %q, %v", b, err)
		}
		if loads != 2 {
			t.Fatal("GetOrLoad called the loader for a cached key")
		}
	})

	t.Run("GetOrLoadHit", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		set(t, c, "k", []byte("cached"), time.Minute)
		b, err := c.GetOrLoad(t.Context(), "k", time.Minute, func(context.Context) ([]byte, error) {
			t.Error("loader called for a cached key")
			return []byte("loaded"), nil
		})
		if err != nil || string(b) != "cached" {
			t.Fatalf("GetOrLoad of a cached key: got %q, %v", b, err)
		}
	})

	t.Run("GetOrLoadStoresWithTTL", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		const ttl = 100 * time.Millisecond
		start := time.Now()
		b, err := c.GetOrLoad(t.Context(), "k", ttl, func(context.Context) ([]byte, error) { return []byte("v"), nil })
		if err != nil || string(b) != "v" {
			t.Fatalf("GetOrLoad: got %q, %v", b, err)
		}
		got, err := c.Get(t.Context(), "k")
		if time.Since(start) < ttl/2 && (err != nil || string(got) != "v") {
			t.Fatalf("Get after GetOrLoad: got %q, %v; the loaded value must be stored", got, err)
		}
		waitMiss(t, c, "k", ttl+3*time.Second)
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		// A key that has been read, so that a local copy (if any) is warm.
		set(t, c, "k", []byte("v"), time.Minute)
		wantValue(t, c, "k", []byte("v"))
		wantValue(t, c, "k", []byte("v"))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		calls := []struct {
			name string
			call func() error
		}{
			{"Get", func() error { _, err := c.Get(ctx, "k"); return err }},
			{"Get absent", func() error { _, err := c.Get(ctx, "absent"); return err }},
			{"GetOrLoad hit", func() error {
				_, err := c.GetOrLoad(ctx, "k", time.Minute, func(context.Context) ([]byte, error) { return nil, nil })
				return err
			}},
			{"GetOrLoad", func() error {
				_, err := c.GetOrLoad(ctx, "absent", time.Minute, func(context.Context) ([]byte, error) {
					t.Error("GetOrLoad with a canceled context called the loader")
					return []byte("loaded"), nil
				})
				return err
			}},
			{"Set", func() error { return c.Set(ctx, "k", []byte("w"), time.Minute) }},
			{"Delete", func() error { return c.Delete(ctx, "k") }},
		}
		for _, tc := range calls {
			name := tc.name
			start := time.Now()
			err := tc.call()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a canceled context: got %v, want an error wrapping context.Canceled", name, err)
			}
			if took := time.Since(start); took > prompt {
				t.Errorf("%s with a canceled context took %v", name, took)
			}
		}
	})

	t.Run("GetOrLoadWaiterContextEnds", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		release := make(chan struct{})
		loading := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			_, err := c.GetOrLoad(context.Background(), "slow", time.Minute, func(context.Context) ([]byte, error) {
				close(loading)
				<-release
				return []byte("slow"), nil
			})
			done <- err
		}()
		select {
		case <-loading:
		case <-time.After(5 * time.Second):
			close(release)
			t.Fatal("loader not called within 5s")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.GetOrLoad(ctx, "slow", time.Minute, func(context.Context) ([]byte, error) { return []byte("second"), nil })
		took := time.Since(start)
		close(release)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("GetOrLoad waiting on a slow load past its deadline: got %v, want an error wrapping context.DeadlineExceeded", err)
		}
		if took > 50*time.Millisecond+prompt {
			t.Errorf("GetOrLoad with a 50ms deadline waited %v for a slow load", took)
		}
		if err := <-done; err != nil {
			t.Fatalf("the loading GetOrLoad: %v", err)
		}
		wantValue(t, c, "slow", []byte("slow"))
	})

	t.Run("GetOrLoadFirstCallerCanceled", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
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
	})

	t.Run("GetOrLoadLoaderPanics", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
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
				if !errors.Is(err, boom) || !errors.Is(err, cache.ErrLoaderPanic) {
					t.Errorf("GetOrLoad with a panicking loader: got %v, want an error wrapping cache.ErrLoaderPanic and the panic value", err)
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
		if !errors.Is(err, cache.ErrLoaderPanic) || !strings.Contains(err.Error(), "not an error") {
			t.Fatalf("GetOrLoad with a loader panicking with a string: got %v, want an error naming the panic value", err)
		}
	})

	t.Run("ReturnedSlicesAreCopies", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		in := []byte("value")
		set(t, c, "k", in, time.Minute)
		in[0] = 'X' // Set copies in; the later reads may come from a local copy
		for range 3 {
			b, err := c.Get(t.Context(), "k")
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if string(b) != "value" {
				t.Fatalf("Get: got %q, want %q (a slice passed to Set or returned by Get changed the cached value)", b, "value")
			}
			b[0] = 'X'
		}
		b, err := c.GetOrLoad(t.Context(), "k", time.Minute, func(context.Context) ([]byte, error) { return []byte("loaded"), nil })
		if err != nil || string(b) != "value" {
			t.Fatalf("GetOrLoad of a cached key: got %q, %v", b, err)
		}
		b[0] = 'X'
		wantValue(t, c, "k", []byte("value"))

		loaded := []byte("loaded")
		b, err = c.GetOrLoad(t.Context(), "l", time.Minute, func(context.Context) ([]byte, error) { return loaded, nil })
		if err != nil || string(b) != "loaded" {
			t.Fatalf("GetOrLoad: got %q, %v", b, err)
		}
		b[0] = 'X'
		loaded[1] = 'X'
		wantValue(t, c, "l", []byte("loaded"))
	})

	t.Run("ConcurrentUse", func(t *testing.T) {
		t.Parallel()
		c := newCache(t)
		const workers, ops, keys = 8, 100, 5
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				for i := range ops {
					k := fmt.Sprintf("k%d", (w+i)%keys)
					want := []byte("value of " + k)
					var (
						b   []byte
						err error
					)
					switch i % 4 {
					case 0:
						err = c.Set(t.Context(), k, want, time.Minute)
					case 1:
						b, err = c.Get(t.Context(), k)
						if errors.Is(err, cache.ErrMiss) {
							b, err = want, nil
						}
					case 2:
						b, err = c.GetOrLoad(t.Context(), k, time.Minute, func(context.Context) ([]byte, error) { return want, nil })
					case 3:
						err = c.Delete(t.Context(), k)
					}
					if err == nil && b != nil && !bytes.Equal(b, want) {
						err = fmt.Errorf("%s: got %q, want %q", k, b, want)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})
}

func set(t *testing.T, c cache.Cache, key string, value []byte, ttl time.Duration) {
	t.Helper()
	if err := c.Set(t.Context(), key, value, ttl); err != nil {
		t.Fatalf("Set %q: %v", key, err)
	}
}

func wantValue(t *testing.T, c cache.Cache, key string, want []byte) {
	t.Helper()
	got, err := c.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get %q: got %s, want %s", key, brief(got), brief(want))
	}
}

func wantMiss(t *testing.T, c cache.Cache, key string) {
	t.Helper()
	if got, err := c.Get(t.Context(), key); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("Get %q: got %s, %v; want an error wrapping cache.ErrMiss", key, brief(got), err)
	}
}

// waitMiss polls key until it is missing and returns when it first was.
func waitMiss(t *testing.T, c cache.Cache, key string, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, err := c.Get(t.Context(), key)
		now := time.Now()
		switch {
		case errors.Is(err, cache.ErrMiss):
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
