package redisconn_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/apexgo/apex/internal/redisconn"
	"github.com/apexgo/apex/internal/testservice"
)

// localRead reads key through the client-side cache and keeps the answer
// in l, as the backends do.
func localRead(t *testing.T, c rueidis.Client, l *redisconn.Local[string], prefix, key string) {
	t.Helper()
	mark := l.Mark()
	v, err := c.DoCache(t.Context(), c.B().Get().Key(prefix+key).Cache(), time.Minute).ToString()
	if err != nil && !rueidis.IsRedisNil(err) {
		t.Fatal(err)
	}
	l.Put(mark, key, v, 0)
}

// eventually polls cond every millisecond for up to bound.
func eventually(bound time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < bound {
		if cond() {
			return time.Since(start), true
		}
		time.Sleep(time.Millisecond)
	}
	return bound, cond()
}

// A Local exists only on the shared client with client-side caching:
// elsewhere DoCache reads are not tracked.
func TestLocalNeedsClientSideCaching(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	cfg := redisconn.DefaultConfig()
	cfg.Addr, cfg.ClientCacheSize = addr, 0
	c, err := redisconn.New(t.Context(), cfg, redisconn.Params{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if l := redisconn.NewLocal(c, redisconn.LocalConfig[string]{}); l != nil {
		t.Fatal("NewLocal on a client without client-side caching returned a Local")
	}
	raw, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(raw.Close)
	if l := redisconn.NewLocal(raw, redisconn.LocalConfig[string]{}); l != nil {
		t.Fatal("NewLocal on another client returned a Local")
	}
	var l *redisconn.Local[string] // a nil Local holds nothing
	l.Put(l.Mark(), "k", "v", 0)
	if _, ok := l.Get("k"); ok {
		t.Fatal("a nil Local holds a value")
	}
}

// A write from another client (another instance) reaches the Local when
// Redis's invalidation arrives; a Put whose read may predate an
// invalidation stores nothing.
func TestLocalInvalidatedByAnotherClient(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	a, b := newClient(t, addr, 2*time.Second, nil), newClient(t, addr, 2*time.Second, nil)
	prefix := testservice.Unique("apexlocal") + ":"
	t.Cleanup(func() { a.Do(context.Background(), a.B().Del().Key(prefix+"k", prefix+"other").Build()) })
	l := redisconn.NewLocal(a, redisconn.LocalConfig[string]{Prefix: prefix})
	if l == nil {
		t.Fatal("NewLocal returned nil on the shared client")
	}
	localRead(t, a, l, prefix, "k")
	if v, ok := l.Get("k"); !ok || v != "" {
		t.Fatalf("after a read of a missing key: %q, %v; want \"\", true", v, ok)
	}
	if err := b.Do(t.Context(), b.B().Set().Key(prefix+"k").Value("1").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	took, ok := eventually(5*time.Second, func() bool { _, held := l.Get("k"); return !held })
	if !ok {
		t.Fatal("5s after another client's write, the Local still holds the old answer")
	}
	t.Logf("another client's write reached the Local after %v", took)
	localRead(t, a, l, prefix, "k")
	if v, ok := l.Get("k"); !ok || v != "1" {
		t.Fatalf("after a read of the new value: %q, %v; want \"1\", true", v, ok)
	}

	// A Put marked before an invalidation (here a Forget) stores nothing.
	mark := l.Mark()
	l.Forget("other")
	l.Put(mark, "k2", "stale?", 0)
	if _, ok := l.Get("k2"); ok {
		t.Fatal("a Put marked before an invalidation stored its value")
	}
	// Keys outside the prefix do not move the mark.
	mark = l.Mark()
	if err := b.Do(t.Context(), b.B().Set().Key(testservice.Unique("apexlocal-elsewhere")).Value("1").Px(time.Second).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if l.Mark() != mark {
		t.Fatal("a write outside the prefix moved the mark")
	}
}

// When the connection that tracked the keys is lost (the server
// restarted), Redis forgets the tracking and no invalidation of what was
// read before will ever come: the Local is flushed, as rueidis's own
// client-side cache is, and the client's next read sees the new server.
func TestLocalFlushedWhenTheServerRestarts(t *testing.T) {
	t.Parallel()
	s := testservice.StartRedis(t)
	c := newClient(t, s.Addr, time.Second, nil)
	l := redisconn.NewLocal(c, redisconn.LocalConfig[string]{})
	for i := range 10 {
		localRead(t, c, l, "", fmt.Sprint("k", i))
	}
	if n := l.Len(); n != 10 {
		t.Fatalf("Len = %d after 10 reads, want 10", n)
	}
	s.Kill()
	if _, ok := eventually(10*time.Second, func() bool { _, held := l.Get("k1"); return !held && l.Len() == 0 }); !ok {
		t.Fatalf("10s after the server was killed the Local holds %d entries", l.Len())
	}
	s.Start()
	writer := newClient(t, s.Addr, time.Second, nil)
	if err := writer.Do(t.Context(), writer.B().Set().Key("k1").Value("new").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if _, ok := eventually(10*time.Second, func() bool {
		mark := l.Mark()
		v, err := c.DoCache(t.Context(), c.B().Get().Key("k1").Cache(), time.Minute).ToString()
		if err != nil {
			return false // the client still fails fast
		}
		l.Put(mark, "k1", v, 0)
		return true
	}); !ok {
		t.Fatal("the client does not read the restarted server within 10s")
	}
	if v, _ := l.Get("k1"); v != "new" {
		t.Fatalf("after the restart the Local holds %q, want the new server's \"new\"", v)
	}
	// And the new connection's tracking works again.
	if err := writer.Do(t.Context(), writer.B().Set().Key("k1").Value("newer").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if _, ok := eventually(5*time.Second, func() bool { _, held := l.Get("k1"); return !held }); !ok {
		t.Fatal("after the restart, a write does not reach the Local")
	}
}

// A Local no longer referenced stops receiving invalidations: the client
// holds it weakly.
func TestLocalCollected(t *testing.T) {
	t.Parallel()
	c := newClient(t, testservice.Need(t, testservice.Redis), 2*time.Second, nil)
	for range 100 {
		_ = redisconn.NewLocal(c, redisconn.LocalConfig[string]{})
	}
	kept := redisconn.NewLocal(c, redisconn.LocalConfig[string]{})
	if _, ok := eventually(10*time.Second, func() bool {
		runtime.GC()
		return redisconn.Subscribers(c) == 1
	}); !ok {
		t.Fatalf("after 100 Locals were dropped the client feeds %d, want 1", redisconn.Subscribers(c))
	}
	runtime.KeepAlive(kept)
}
