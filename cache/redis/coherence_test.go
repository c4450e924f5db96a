package redis_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/apexgo/apex/cache/port"
	"github.com/apexgo/apex/cache/redis"
	"github.com/apexgo/apex/internal/redisconn"
	"github.com/apexgo/apex/internal/testservice"
)

// The client-side cache's coherence under load: goroutines of a
// ClientSide Cache read a few hot keys in a tight loop while other clients
// write them. A read may be stale for a moment (until Redis's invalidation
// arrives, or until a lost connection is noticed and flushes everything);
// once the writes stop, every key must read as Redis holds it within
// convergeWithin, and keep reading so. A stale value that stays would
// otherwise stay until the key's next write or LocalTTL (a minute).

// convergeWithin bounds the convergence: generous, for a loaded CI
// machine under -race (an invalidation takes about a millisecond).
const convergeWithin = 10 * time.Second

// streamFor is how long each test writes: short enough for CI, where
// -count makes a stress run; APEX_TEST_COHERENCE_STREAM (a Go duration)
// sets a longer stream.
func streamFor(t *testing.T) time.Duration {
	t.Helper()
	if s := os.Getenv("APEX_TEST_COHERENCE_STREAM"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("APEX_TEST_COHERENCE_STREAM: %v", err)
		}
		return d
	}
	return 250 * time.Millisecond
}

// hot is a test's hot keys and what was written to them.
type hot struct {
	t    *testing.T
	addr string
	p    string
	keys []string
	// raw is a plain rueidis client without client-side caching: another
	// service writing the keys, and the test's view of Redis.
	raw rueidis.Client
	// mu serialises the writes to each key, so that its versions increase
	// in Redis.
	mu  []sync.Mutex
	ver []int64
}

// newHot writes version 1 to n keys under a prefix of the test's own.
func newHot(t *testing.T, n int) *hot {
	t.Helper()
	addr := testservice.Need(t, testservice.Redis)
	raw, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress: []string{addr}, DisableCache: true, ClientName: "apex-cache-test-raw",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(raw.Close)
	h := &hot{t: t, addr: addr, p: prefix(t, raw), raw: raw, mu: make([]sync.Mutex, n), ver: make([]int64, n)}
	for i := range n {
		h.keys = append(h.keys, fmt.Sprint("k", i))
		if err := h.write(i, h.rawSet); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// instance returns a ClientSide Cache on a client of its own (an apex
// process), whose connections are named name.
func (h *hot) instance(name string, cfg redis.Config, tweak ...func(*redisconn.Config)) *redis.Cache {
	h.t.Helper()
	cfg.Prefix, cfg.ClientSide = h.p, true
	return newCache(h.t, connectAs(h.t, h.addr, name, tweak...), cfg)
}

type setter func(ctx context.Context, key string, value []byte) error

func cacheSet(c *redis.Cache) setter {
	return func(ctx context.Context, key string, value []byte) error { return c.Set(ctx, key, value, 0) }
}

func (h *hot) rawSet(ctx context.Context, key string, value []byte) error {
	return h.raw.Do(ctx, h.raw.B().Set().Key(h.p+key).Value(string(value)).Build()).Error()
}

// write writes key i's next version with set: the version is used even
// when set fails (the write may have happened).
func (h *hot) write(i int, set setter) error {
	h.mu[i].Lock()
	defer h.mu[i].Unlock()
	h.ver[i]++
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return set(ctx, h.keys[i], []byte(strconv.FormatInt(h.ver[i], 10)))
}

// writer is a loop body writing a random key with set.
func (h *hot) writer(set setter, f *failures, tolerate func(error) bool) func() {
	return func() {
		if err := h.write(rand.IntN(len(h.keys)), set); err != nil && !tolerate(err) {
			f.add(fmt.Errorf("write: %w", err))
		}
	}
}

// reader is a loop body reading every key once through c. With
// monotonic, it checks that no key reads older than this reader read it
// before: a value a reader has seen replaced is invalidated before the
// new one can be read (Redis sends the invalidation on the connection
// that tracks the key, before the reply of any later read of it).
func (h *hot) reader(c *redis.Cache, f *failures, monotonic bool, tolerate func(error) bool) func() {
	last := make([]int64, len(h.keys))
	ctx := context.Background()
	return func() {
		for i, k := range h.keys {
			b, err := c.Get(ctx, k)
			if err != nil {
				if !tolerate(err) {
					f.add(fmt.Errorf("read %q: %w", k, err))
				}
				continue
			}
			v, err := strconv.ParseInt(string(b), 10, 64)
			if err != nil {
				f.add(fmt.Errorf("read %q: %q is not a version", k, b))
				continue
			}
			if monotonic && v < last[i] {
				f.add(fmt.Errorf("read %q: version %d after %d", k, v, last[i]))
			}
			last[i] = v
		}
	}
}

// stream runs each reader and each background function in a loop of its
// own, and the writers for d; the readers go on a little while after the
// writers stop, racing with the last invalidations.
func stream(d time.Duration, readers, writers, background []func()) {
	loop := func(wg *sync.WaitGroup, stop <-chan struct{}, fs []func()) {
		for _, f := range fs {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
						f()
					}
				}
			})
		}
	}
	var rwg, wwg sync.WaitGroup
	stopReaders, stopWriters := make(chan struct{}), make(chan struct{})
	loop(&rwg, stopReaders, readers)
	loop(&wwg, stopWriters, append(writers, background...))
	time.Sleep(d)
	close(stopWriters)
	wwg.Wait()
	time.Sleep(20 * time.Millisecond)
	close(stopReaders)
	rwg.Wait()
}

// converges checks that c reads every key as Redis holds it within
// convergeWithin, and still does a little later.
func (h *hot) converges(c *redis.Cache, who string) {
	h.t.Helper()
	start := time.Now()
	for {
		err := h.compare(c)
		if err == nil {
			break
		}
		if time.Since(start) > convergeWithin {
			h.t.Fatalf("%s: a stale value stays: %v (%v after the writes stopped)", who, err, convergeWithin)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for range 5 {
		time.Sleep(2 * time.Millisecond)
		if err := h.compare(c); err != nil {
			h.t.Fatalf("%s: stale again after reading every key's value: %v", who, err)
		}
	}
}

// compare compares what c reads of each key with what Redis holds.
func (h *hot) compare(c *redis.Cache) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	full := make([]string, len(h.keys))
	for i, k := range h.keys {
		full[i] = h.p + k
	}
	held, err := h.raw.Do(ctx, h.raw.B().Mget().Key(full...).Build()).ToArray()
	if err != nil {
		return err
	}
	for i, k := range h.keys {
		want, err := held[i].ToString()
		gone := rueidis.IsRedisNil(err)
		if err != nil && !gone {
			return err
		}
		got, err := c.Get(ctx, k)
		miss := errors.Is(err, port.ErrMiss)
		switch {
		case err != nil && !miss:
			return fmt.Errorf("key %q: %w", k, err)
		case gone && miss:
		case gone:
			return fmt.Errorf("key %q reads %q; Redis has none", k, got)
		case miss:
			return fmt.Errorf("key %q reads as missing; Redis has %q", k, want)
		case string(got) != want:
			return fmt.Errorf("key %q reads %q; Redis has %q", k, got, want)
		}
	}
	return nil
}

// kill closes the connections named name (CLIENT KILL ID), as a dropped
// network would, and returns how many it closed. Only those: the test
// Redis is shared (no CLIENT KILL TYPE normal, no FLUSHALL).
func (h *hot) kill(name string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := h.raw.Do(ctx, h.raw.B().ClientList().Build()).ToString()
	if err != nil {
		return 0, err
	}
	n := 0
	for line := range strings.Lines(list) {
		var id int64 = -1
		named := false
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id, _ = strconv.ParseInt(v, 10, 64)
			}
			named = named || f == "name="+name
		}
		// An error: the connection is already gone.
		if named && id >= 0 && h.raw.Do(ctx, h.raw.B().ClientKill().Id(id).Build()).Error() == nil {
			n++
		}
	}
	return n, nil
}

// failures collects what goroutines saw go wrong.
type failures struct {
	mu    sync.Mutex
	n     int
	first []error
}

func (f *failures) add(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if len(f.first) < 5 {
		f.first = append(f.first, err)
	}
}

func (f *failures) check(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n > 0 {
		t.Fatalf("%d failures, the first: %v", f.n, errors.Join(f.first...))
	}
}

func none(error) bool { return false }

// unavailable tolerates the errors of a client that lost its connection
// and fails fast until Redis answers again.
func unavailable(err error) bool {
	return errors.Is(err, port.ErrUnavailable) || errors.Is(err, rueidis.ErrDoCacheAborted)
}

// TestClientSideCoherence: readers of one instance converge to the last
// value written by another instance and by another service, whatever they
// read while the writes went on.
func TestClientSideCoherence(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		keys int
		// small makes both client-side caches evict: a few entries fit.
		small bool
		// readerWrites: the reading instance writes the keys too.
		readerWrites bool
		// kill closes the readers' and the writing instance's connections
		// now and then; deleteAll deletes every key now and then.
		kill, deleteAll bool
	}{
		{name: "Writers", keys: 4},
		{name: "Evicting", keys: 32, small: true},
		{name: "ReaderWritesToo", keys: 4, readerWrites: true},
		{name: "ConnectionsKilled", keys: 4, kill: true},
		{name: "KeysDeleted", keys: 4, deleteAll: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHot(t, tc.keys)
			cfg := redis.Config{}
			var tweak []func(*redisconn.Config)
			if tc.small {
				cfg.LocalMaxBytes = 8 * 100 // about 8 entries
				tweak = append(tweak, func(c *redisconn.Config) { c.ClientCacheSize = 4 << 10 })
			}
			readerName, writerName := testservice.Unique("apexcsr"), testservice.Unique("apexcsw")
			reader := h.instance(readerName, cfg, tweak...)
			// A second reading process, killed with the first.
			other := h.instance(readerName, cfg, tweak...)
			writer := h.instance(writerName, redis.Config{})

			var f failures
			// Reads go back to an older version only for a moment, when the
			// reader writes too (before its write's invalidation arrives) or
			// loses its connection (until it is noticed).
			monotonic := !tc.readerWrites && !tc.kill
			tolerate := none
			if tc.kill {
				tolerate = unavailable
			}
			readTolerates := tolerate
			if tc.deleteAll {
				readTolerates = func(err error) bool { return errors.Is(err, port.ErrMiss) }
			}
			readers := []func(){
				h.reader(reader, &f, monotonic, readTolerates), h.reader(reader, &f, monotonic, readTolerates),
				h.reader(reader, &f, monotonic, readTolerates), h.reader(other, &f, monotonic, readTolerates),
			}
			writers := []func(){h.writer(cacheSet(writer), &f, tolerate), h.writer(h.rawSet, &f, none)}
			if tc.readerWrites {
				writers = append(writers, h.writer(cacheSet(reader), &f, none))
			}
			var background []func()
			kills := 0
			if tc.kill {
				background = append(background, func() {
					time.Sleep(time.Duration(20+rand.IntN(30)) * time.Millisecond)
					for _, name := range []string{readerName, writerName} {
						n, err := h.kill(name)
						if err != nil {
							f.add(err)
						}
						kills += n
					}
				})
			}
			if tc.deleteAll {
				background = append(background, func() {
					time.Sleep(time.Duration(5+rand.IntN(20)) * time.Millisecond)
					if err := deleteKeys(context.Background(), h.raw, h.p); err != nil {
						f.add(err)
					}
				})
			}
			stream(streamFor(t), readers, writers, background)
			f.check(t)
			if tc.kill && kills == 0 {
				t.Fatal("no connection killed")
			}
			h.converges(reader, "the reading instance")
			h.converges(other, "the other reading instance")
			h.converges(writer, "the writing instance")

			// Every key deleted at once by another client.
			if err := deleteKeys(t.Context(), h.raw, h.p); err != nil {
				t.Fatal(err)
			}
			h.converges(reader, "the reading instance, keys deleted")
			h.converges(other, "the other reading instance, keys deleted")
		})
	}
}

// TestClientSideDeletesAndExpiry: keys deleted, and keys that expire,
// whichever client wrote or deleted them, read as missing once Redis has
// none, whatever the readers cached meanwhile.
func TestClientSideDeletesAndExpiry(t *testing.T) {
	t.Parallel()
	h := newHot(t, 4)
	reader := h.instance(testservice.Unique("apexcsr"), redis.Config{})
	writer := h.instance(testservice.Unique("apexcsw"), redis.Config{})
	const maxTTL = 60 * time.Millisecond
	ttl := func() time.Duration {
		return time.Duration(1+rand.IntN(int(maxTTL/time.Millisecond))) * time.Millisecond
	}
	ctx := context.Background()
	ops := []setter{
		func(ctx context.Context, key string, v []byte) error { return writer.Set(ctx, key, v, ttl()) },
		func(ctx context.Context, key string, v []byte) error { return writer.Set(ctx, key, v, 0) },
		func(ctx context.Context, key string, _ []byte) error { return writer.Delete(ctx, key) },
		func(ctx context.Context, key string, v []byte) error {
			return h.raw.Do(ctx, h.raw.B().Set().Key(h.p+key).Value(string(v)).Px(ttl()).Build()).Error()
		},
		func(ctx context.Context, key string, _ []byte) error {
			return h.raw.Do(ctx, h.raw.B().Del().Key(h.p+key).Build()).Error()
		},
		// The reading instance's own writes, with a TTL.
		func(ctx context.Context, key string, v []byte) error { return reader.Set(ctx, key, v, ttl()) },
	}
	var f failures
	miss := func(err error) bool { return errors.Is(err, port.ErrMiss) }
	readers := []func(){h.reader(reader, &f, false, miss), h.reader(reader, &f, false, miss), h.reader(reader, &f, false, miss)}
	var writers []func()
	for _, op := range ops {
		writers = append(writers, h.writer(op, &f, none))
	}
	stream(streamFor(t), readers, writers, nil)
	f.check(t)
	// The last keys written with a TTL expire.
	time.Sleep(maxTTL)
	h.converges(reader, "the reading instance")
	h.converges(writer, "the writing instance")

	// Every key written with a TTL by another instance, read (once the
	// write's invalidation has reached the reader) and left to expire:
	// the local copies end with the key, whenever Redis's invalidation of
	// the expired key comes.
	const short = 100 * time.Millisecond
	for _, k := range h.keys {
		start := time.Now()
		if err := writer.Set(ctx, k, []byte("short"), short); err != nil {
			t.Fatal(err)
		}
		for time.Since(start) < short/2 {
			if got, err := reader.Get(ctx, k); err == nil && string(got) == "short" {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(short)
	h.converges(reader, "the reading instance, after the keys expired")
}

// TestClientSideReadsOwnWritesUnderLoad: a Set or Delete followed by a Get
// on the same instance reads what was just written, while other
// goroutines of the instance keep the key in both client-side caches and
// another instance reads it too.
func TestClientSideReadsOwnWritesUnderLoad(t *testing.T) {
	t.Parallel()
	h := newHot(t, 4)
	c := h.instance(testservice.Unique("apexcsr"), redis.Config{})
	other := h.instance(testservice.Unique("apexcsr"), redis.Config{})
	var f failures
	ctx := context.Background()
	miss := func(err error) bool { return errors.Is(err, port.ErrMiss) }
	readers := []func(){h.reader(c, &f, false, miss), h.reader(c, &f, false, miss), h.reader(other, &f, false, miss)}
	// One writer a key: what it reads back is what it wrote.
	var writers []func()
	for i, k := range h.keys {
		n := 0
		writers = append(writers, func() {
			n++
			if n%8 == 0 {
				if err := c.Delete(ctx, k); err != nil {
					f.add(err)
					return
				}
				if got, err := c.Get(ctx, k); !errors.Is(err, port.ErrMiss) {
					f.add(fmt.Errorf("key %q: read %q, %v right after deleting it", k, got, err))
				}
				return
			}
			err := h.write(i, func(ctx context.Context, key string, v []byte) error {
				if err := c.Set(ctx, key, v, 0); err != nil {
					return err
				}
				if got, err := c.Get(ctx, key); err != nil || string(got) != string(v) {
					return fmt.Errorf("key %q: read %q, %v right after writing %q", key, got, err, v)
				}
				return nil
			})
			if err != nil {
				f.add(err)
			}
		})
	}
	stream(streamFor(t), readers, writers, nil)
	f.check(t)
	h.converges(c, "the writing instance")
	h.converges(other, "the other instance")
}
