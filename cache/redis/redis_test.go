package redis_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/rueidis"

	"github.com/apexgo/apex/cache/cachetest"
	"github.com/apexgo/apex/cache/internal/backend"
	"github.com/apexgo/apex/cache/port"
	"github.com/apexgo/apex/cache/redis"
	"github.com/apexgo/apex/internal/redisconn"
	"github.com/apexgo/apex/internal/testservice"
)

// connect returns a new client (standing for one apex instance) to the
// test Redis at addr, closed when t ends.
func connect(t *testing.T, addr string, tweak ...func(*redisconn.Config)) rueidis.Client {
	t.Helper()
	return connectAs(t, addr, "apex-cache-test", tweak...)
}

// connectAs is connect with the client's connections named name in
// CLIENT LIST.
func connectAs(t *testing.T, addr, name string, tweak ...func(*redisconn.Config)) rueidis.Client {
	t.Helper()
	cfg := redisconn.DefaultConfig()
	cfg.Addr = addr
	cfg.DialTimeout = 2 * time.Second
	cfg.CommandTimeout = 2 * time.Second
	for _, f := range tweak {
		f(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := redisconn.New(ctx, cfg, redisconn.Params{ClientName: name})
	if err != nil {
		t.Fatalf("redisconn.New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// prefix returns a key prefix unique to this test, whose keys are deleted
// when t ends.
func prefix(t *testing.T, client rueidis.Client) string {
	t.Helper()
	p := testservice.Unique("apextest") + ":"
	cleanup(t, client, p)
	return p
}

// cleanup deletes the keys under p when t ends.
func cleanup(t *testing.T, client rueidis.Client, p string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := deleteKeys(ctx, client, p); err != nil {
			t.Errorf("deleting the test's keys under %q: %v", p, err)
		}
	})
}

func deleteKeys(ctx context.Context, client rueidis.Client, prefix string) error {
	var cursor uint64
	for {
		e, err := client.Do(ctx, client.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			return err
		}
		if len(e.Elements) > 0 {
			if err := client.Do(ctx, client.B().Unlink().Key(e.Elements...).Build()).Error(); err != nil {
				return err
			}
		}
		if cursor = e.Cursor; cursor == 0 {
			return nil
		}
	}
}

func newCache(t *testing.T, client rueidis.Client, cfg redis.Config) *redis.Cache {
	t.Helper()
	if cfg.Prefix == "" {
		cfg.Prefix = prefix(t, client)
	}
	c, err := redis.New(client, cfg)
	if err != nil {
		t.Fatalf("redis.New: %v", err)
	}
	return c
}

func TestCacheConformance(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	for _, tc := range []struct {
		name       string
		clientSide bool
	}{{"Server", false}, {"ClientSide", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Each instance has its own client, as processes do.
			cachetest.Run(t, cachetest.Features{Shared: true}, func(t *testing.T, p string) port.Cache {
				client := connect(t, addr)
				cleanup(t, client, p)
				return newCache(t, client, redis.Config{Prefix: p, ClientSide: tc.clientSide})
			})
		})
	}
}

func TestNewRejectsNilClient(t *testing.T) {
	t.Parallel()
	if _, err := redis.New(nil, redis.Config{}); err == nil {
		t.Error("New(nil): no error")
	}
	if _, err := redis.NewLimiter(nil, redis.LimiterConfig{}); err == nil {
		t.Error("NewLimiter(nil): no error")
	}
}

func TestPrefixIsolatesServices(t *testing.T) {
	t.Parallel()
	client := connect(t, testservice.Need(t, testservice.Redis))
	p := prefix(t, client)
	orders := newCache(t, client, redis.Config{Prefix: p + "orders:"})
	users := newCache(t, client, redis.Config{Prefix: p + "users:"})
	if err := orders.Set(t.Context(), "k", []byte("orders"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := users.Get(t.Context(), "k"); !errors.Is(err, port.ErrMiss) {
		t.Fatalf("another prefix sees the key: %v", err)
	}
	got, err := client.Do(t.Context(), client.B().Get().Key(p+"orders:k").Build()).ToString()
	if err != nil || got != "orders" {
		t.Fatalf("the key in Redis: got %q, %v; want it stored under the prefix", got, err)
	}
}

// TestClientSideInvalidationAcrossInstances: instance A serves a key from
// its local copy until instance B writes or deletes it.
func TestClientSideInvalidationAcrossInstances(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	clientA, clientB := connect(t, addr), connect(t, addr)
	p := prefix(t, clientA)
	metricsA, err := backend.NewMetrics(nil, "redis")
	if err != nil {
		t.Fatal(err)
	}
	a := newCache(t, clientA, redis.Config{Prefix: p, ClientSide: true, Metrics: metricsA})
	b := newCache(t, clientB, redis.Config{Prefix: p, ClientSide: true})
	ctx := t.Context()

	if err := b.Set(ctx, "k", []byte("v1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if got, err := a.Get(ctx, "k"); err != nil || string(got) != "v1" {
			t.Fatalf("A's read %d: got %q, %v; want v1", i+1, got, err)
		}
	}
	if n := testutil.ToFloat64(metricsA.LocalHits); n < 1 {
		t.Fatalf("A's second read was not served locally: local hits = %v", n)
	}

	if err := b.Set(ctx, "k", []byte("v2"), time.Minute); err != nil {
		t.Fatal(err)
	}
	eventually(t, "A reads B's new value", func() error {
		got, err := a.Get(ctx, "k")
		if err == nil && string(got) != "v2" {
			err = errors.New("still " + string(got))
		}
		return err
	})
	before := testutil.ToFloat64(metricsA.LocalHits)
	if got, err := a.Get(ctx, "k"); err != nil || string(got) != "v2" {
		t.Fatalf("A's read of v2: got %q, %v", got, err)
	}
	if testutil.ToFloat64(metricsA.LocalHits) <= before {
		t.Fatal("A does not cache the new value locally")
	}

	if err := b.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "A sees B's delete", func() error {
		got, err := a.Get(ctx, "k")
		if errors.Is(err, port.ErrMiss) {
			return nil
		}
		if err == nil {
			err = errors.New("still " + string(got))
		}
		return err
	})

	// A cached miss is invalidated too.
	if err := b.Set(ctx, "k", []byte("v3"), time.Minute); err != nil {
		t.Fatal(err)
	}
	eventually(t, "A reads B's value after its cached miss", func() error {
		got, err := a.Get(ctx, "k")
		if err == nil && string(got) != "v3" {
			err = errors.New("still " + string(got))
		}
		return err
	})
}

// eventually polls check for up to 5s.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second) // a loaded CI machine under -race
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s: %v", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestClientSideReadsOwnWrites: a read right after a write in the same
// process sees the write, although Redis invalidates the local copy only
// after replying to it.
func TestClientSideReadsOwnWrites(t *testing.T) {
	t.Parallel()
	client := connect(t, testservice.Need(t, testservice.Redis))
	c := newCache(t, client, redis.Config{ClientSide: true})
	ctx := t.Context()
	check := func(round int) {
		t.Helper()
		for i := range 200 {
			v := []byte{byte(round), byte(i)}
			if err := c.Set(ctx, "k", v, time.Minute); err != nil {
				t.Fatal(err)
			}
			if got, err := c.Get(ctx, "k"); err != nil || string(got) != string(v) {
				t.Fatalf("round %d, write %d: read %q, %v right after writing %q", round, i, got, err, v)
			}
			if i%10 == 0 {
				if err := c.Delete(ctx, "k"); err != nil {
					t.Fatal(err)
				}
				if got, err := c.Get(ctx, "k"); !errors.Is(err, port.ErrMiss) {
					t.Fatalf("round %d, write %d: read %q, %v right after deleting", round, i, got, err)
				}
			}
		}
	}
	check(0)
	// More keys written at once than the Cache remembers individually.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := range 1100 {
				if err := c.Set(ctx, fmt.Sprint("many:", w, ":", i), []byte("x"), time.Minute); err != nil {
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
	check(1)
}

// TestClientSideReturnsCopies: a slice returned from the local copy is the
// caller's; changing it does not change what the next read returns.
func TestClientSideReturnsCopies(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	client, direct := connect(t, addr), connect(t, addr)
	p := prefix(t, direct)
	metrics, err := backend.NewMetrics(nil, "redis")
	if err != nil {
		t.Fatal(err)
	}
	c := newCache(t, client, redis.Config{Prefix: p, ClientSide: true, Metrics: metrics})
	// Written by another instance, so that this one reads it locally at once.
	if err := direct.Do(t.Context(), direct.B().Set().Key(p+"k").Value("value").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		b, err := c.Get(t.Context(), "k")
		if err != nil || string(b) != "value" {
			t.Fatalf("read %d: got %q, %v; want %q", i+1, b, err, "value")
		}
		b[0] = 'X'
	}
	if n := testutil.ToFloat64(metrics.LocalHits); n < 2 {
		t.Fatalf("reads served locally: %v, want 2", n)
	}
}

// TestClientSideManyKeys: with more keys than the backend keeps built
// commands for (so slots collide), and keys too long to keep, concurrent
// reads each get their own key's value, served locally from the second
// read on, and still see another instance's writes.
func TestClientSideManyKeys(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	client, direct := connect(t, addr), connect(t, addr)
	p := prefix(t, direct)
	metrics, err := backend.NewMetrics(nil, "redis")
	if err != nil {
		t.Fatal(err)
	}
	c := newCache(t, client, redis.Config{Prefix: p, ClientSide: true, Metrics: metrics})
	keys := make([]string, 3000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
		if i%100 == 0 { // longer than the command table keeps
			keys[i] += string(make([]byte, 300))
		}
	}
	set := func(value string) {
		t.Helper()
		cmds := make(rueidis.Commands, 0, len(keys))
		for i, k := range keys {
			cmds = append(cmds, direct.B().Set().Key(p+k).Value(fmt.Sprint(value, i)).Build())
		}
		for _, r := range direct.DoMulti(t.Context(), cmds...) {
			if err := r.Error(); err != nil {
				t.Fatal(err)
			}
		}
	}
	readAll := func(value string) error {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < len(keys); i += 8 {
					want := fmt.Sprint(value, i)
					if b, err := c.Get(t.Context(), keys[i]); err != nil || string(b) != want {
						errs <- fmt.Errorf("key %d: got %q, %v; want %q", i, b, err, want)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	set("a")
	for round := range 2 {
		if err := readAll("a"); err != nil {
			t.Fatalf("round %d: %v", round+1, err)
		}
	}
	if n := testutil.ToFloat64(metrics.LocalHits); n < float64(len(keys)) {
		t.Fatalf("reads served locally: %v, want at least %d", n, len(keys))
	}
	set("b")
	start := time.Now()
	for readAll("b") != nil && time.Since(start) < 5*time.Second { // a loaded CI machine under -race
		time.Sleep(5 * time.Millisecond)
	}
	if err := readAll("b"); err != nil {
		// Say which layer holds each stale value: the Local (Get),
		// rueidis's client-side cache (DoCache, a hit), Redis (Do).
		stale := 0
		for i, k := range keys {
			if b, err := c.Get(t.Context(), k); (err != nil || string(b) != fmt.Sprint("b", i)) && stale < 10 {
				stale++
				r := client.DoCache(t.Context(), client.B().Get().Key(p+k).Cache(), time.Minute)
				cached, _ := r.ToString()
				held, _ := client.Do(t.Context(), client.B().Get().Key(p+k).Build()).ToString()
				t.Errorf("key %d: Get %q, %v; DoCache %q (hit: %v); Redis %q", i, b, err, cached, r.IsCacheHit(), held)
			}
		}
		t.Fatalf("every key's new value: not within 5s: %v", err)
	}
}
