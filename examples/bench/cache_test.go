package bench

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/apexgo/apex/cache"
	"github.com/apexgo/apex/cache/memory"
	apexredis "github.com/apexgo/apex/cache/redis"
	"github.com/apexgo/apex/internal/redisconn"
)

// rounds repeats the backends of a cache benchmark in turn (go test
// -count repeats each one several times in a row instead), so that on a
// loaded machine each backend sees the same load: go test -bench ...
// -rounds 5. Go names the repeats name#01, name#02, ...
var rounds = flag.Int("rounds", 1, "times the cache benchmarks run their backends in turn")

// redisAddr is the Redis the cache benchmarks use: APEX_TEST_REDIS_ADDR,
// default 127.0.0.1:6379. Benchmarks skip when nothing answers there.
func redisAddr(b *testing.B) string {
	addr := os.Getenv("APEX_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		b.Skipf("no Redis at %s (set APEX_TEST_REDIS_ADDR): %v", addr, err)
	}
	c.Close()
	return addr
}

func rueidisClient(b *testing.B, addr string) rueidis.Client {
	cfg := redisconn.DefaultConfig()
	cfg.Addr = addr
	c, err := redisconn.New(context.Background(), cfg, redisconn.Params{ClientName: "apex-bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

func goredisClient(b *testing.B, addr string) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	b.Cleanup(func() { c.Close() })
	return c
}

// benchPrefix is unique per run, so runs never read each other's keys.
func benchPrefix() string { return "apexbench:" + rand.Text()[:10] + ":" }

// concurrency runs get with 1 goroutine (a plain loop) or ~64
// (RunParallel with 64/GOMAXPROCS goroutines per P). The context has a
// deadline, as a request's has under apex's timeout middleware. Besides
// ns/op it reports cpu-ns/op, the CPU time this process spent per call
// (on a loaded machine wall time mostly measures the other jobs; for the
// limiters it leaves out the Redis server's share), and load1, the
// machine's 1-minute load average at the end.
func concurrency(b *testing.B, n int, get func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	defer func() {
		b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
		load1, _ := strconv.ParseFloat(strings.Fields(LoadAverage())[0], 64)
		b.ReportMetric(load1, "load1")
	}()
	if n == 1 {
		for b.Loop() {
			if err := get(ctx); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism(max(1, n/runtime.GOMAXPROCS(0)))
	var failed atomic.Pointer[error]
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := get(ctx); err != nil {
				failed.CompareAndSwap(nil, &err)
			}
		}
	})
	if e := failed.Load(); e != nil {
		b.Fatal(*e)
	}
}

// BenchmarkCacheGetHot reads one hot 100-byte key through each backend
// and through go-redis's plain GET, at 1 and 64 goroutines. -count N
// repeats the whole set, so the backends interleave:
//
//	go test -run xxx -bench 'CacheGetHot/(memory|redis-client-side)/' -benchmem -rounds 5
func BenchmarkCacheGetHot(b *testing.B) {
	b.Logf("cpu: %s; load average at start: %s", CPUModel(), LoadAverage())
	addr := redisAddr(b)
	value := make([]byte, 100)
	const key = "hot"

	mem, err := memory.New(memory.Config{MaxEntries: 1000})
	if err != nil {
		b.Fatal(err)
	}
	prefix := benchPrefix()
	writer := rueidisClient(b, addr)
	b.Cleanup(func() { writer.Do(context.Background(), writer.B().Del().Key(prefix+key).Build()) })
	// Written through another client (standing for another instance) so
	// that the readers' client-side caches hold it from the first read.
	if err := writer.Do(context.Background(), writer.B().Set().Key(prefix+key).Value(rueidis.BinaryString(value)).Build()).Error(); err != nil {
		b.Fatal(err)
	}
	if err := mem.Set(context.Background(), key, value, 0); err != nil {
		b.Fatal(err)
	}
	plain, err := apexredis.New(rueidisClient(b, addr), apexredis.Config{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	clientSide, err := apexredis.New(rueidisClient(b, addr), apexredis.Config{Prefix: prefix, ClientSide: true})
	if err != nil {
		b.Fatal(err)
	}
	gr := goredisClient(b, addr)

	backends := []struct {
		name string
		get  func(ctx context.Context) error
	}{
		{"memory", func(ctx context.Context) error { _, err := mem.Get(ctx, key); return err }},
		{"redis", func(ctx context.Context) error { _, err := plain.Get(ctx, key); return err }},
		{"redis-client-side", func(ctx context.Context) error { _, err := clientSide.Get(ctx, key); return err }},
		// Without a deadline in ctx the backend adds redis.command_timeout.
		{"redis-client-side-no-deadline", func(context.Context) error {
			_, err := clientSide.Get(context.Background(), key)
			return err
		}},
		{"go-redis-GET", func(ctx context.Context) error { _, err := gr.Get(ctx, prefix+key).Bytes(); return err }},
	}
	for range *rounds {
		for _, n := range []int{1, 64} {
			for _, be := range backends {
				b.Run(fmt.Sprintf("%s/goroutines=%d", be.name, n), func(b *testing.B) { concurrency(b, n, be.get) })
			}
		}
	}
}

// BenchmarkLimiter makes rate-limit decisions on Redis with apex's
// limiter (GCRA in Lua over rueidis) and with go-redis/redis_rate (GCRA
// in Lua over go-redis), at 64 goroutines over 1000 keys, with limits
// high enough that every decision is an admission. -rounds N repeats
// both in turn:
//
//	go test -run xxx -bench 'Limiter' -benchmem -rounds 5
func BenchmarkLimiter(b *testing.B) {
	b.Logf("cpu: %s; load average at start: %s", CPUModel(), LoadAverage())
	addr := redisAddr(b)
	prefix := benchPrefix()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	// 1 event per µs (the finest both accept), a burst no run exhausts.
	const rate, burst = 1_000_000, 1_000_000_000

	rc := rueidisClient(b, addr)
	apexL, err := apexredis.NewLimiter(rc, apexredis.LimiterConfig{Prefix: prefix + "apex:"})
	if err != nil {
		b.Fatal(err)
	}
	apexLimit := cache.Limit{Rate: rate, Period: time.Second, Burst: burst}

	rateL := redis_rate.NewLimiter(goredisClient(b, addr))
	rrLimit := redis_rate.Limit{Rate: rate, Period: time.Second, Burst: burst}
	b.Cleanup(func() {
		ctx := context.Background()
		for _, k := range keys {
			rc.Do(ctx, rc.B().Del().Key(prefix+"apex:"+k, "rate:"+prefix+k).Build())
		}
	})

	var next atomic.Uint64
	pick := func() string { return keys[next.Add(1)%uint64(len(keys))] }
	limiters := []struct {
		name  string
		allow func(ctx context.Context) error
	}{
		{"apex-redis", func(ctx context.Context) error {
			r, err := apexL.Allow(ctx, pick(), apexLimit)
			if err == nil && !r.Allowed {
				err = fmt.Errorf("refused: %+v", r)
			}
			return err
		}},
		{"redis_rate", func(ctx context.Context) error {
			r, err := rateL.Allow(ctx, prefix+pick(), rrLimit)
			if err == nil && r.Allowed != 1 {
				err = fmt.Errorf("refused: %+v", r)
			}
			return err
		}},
	}
	for range *rounds {
		for _, l := range limiters {
			b.Run(l.name+"/goroutines=64", func(b *testing.B) { concurrency(b, 64, l.allow) })
		}
	}
}
