package outbox_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"gorm.io/gorm"

	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/internal/testservice"
	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/outbox"
	"github.com/apexgo/apex/queue/port"
	"github.com/apexgo/apex/queue/redisstream"
)

// streamBackend is the Redis Streams backend on the test Redis under a
// random prefix whose keys are deleted at the end.
func streamBackend(b *testing.B) *redisstream.Queue {
	addr := testservice.Need(b, testservice.Redis)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, ForceSingleClient: true, DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	prefix := "outboxbench-" + hex.EncodeToString(r[:]) + ":"
	q, err := redisstream.New(c, redisstream.Config{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = q.Close()
		ctx := context.Background()
		var cursor uint64
		for {
			e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match("{"+prefix+"*").Count(1000).Build()).AsScanEntry()
			if err != nil {
				break
			}
			for _, k := range e.Elements {
				c.Do(ctx, c.B().Unlink().Key(k).Build())
			}
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
		c.Close()
	})
	return q
}

// fill commits n outbox rows in transactions of 1,000.
func fill(b *testing.B, db *gorm.DB, c *queue.Client, n int) {
	for done := 0; done < n; {
		k := min(1000, n-done)
		if err := db.Transaction(func(tx *gorm.DB) error {
			for range k {
				if _, err := c.EnqueueTx(tx, "bench", 1); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		done += k
	}
}

// Relay throughput: committed outbox rows on Postgres moved to the Redis
// stream, batches of 500, side by side with the baseline of enqueuing
// the same batches straight into the stream.
func BenchmarkRelayThroughput(b *testing.B) {
	db := openDB(b, datatest.PostgresDSN(b))
	backend := streamBackend(b)
	c := newClient(b, backend)
	b.Run("relay/batch=500", func(b *testing.B) {
		fill(b, db, c, b.N)
		relay, err := outbox.NewRelay(db, backend, outbox.Config{Batch: 500}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for moved := 0; moved < b.N; {
			n, err := relay.RelayOnce(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			moved += n
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
	})
	b.Run("direct-enqueue/batch=500", func(b *testing.B) {
		items := make([]queue.Item, 500)
		for i := range items {
			items[i] = queue.Item{Kind: "bench", Payload: 1}
		}
		b.ResetTimer()
		for done := 0; done < b.N; done += 500 {
			if _, err := c.EnqueueMany(context.Background(), items[:min(500, b.N-done)]...); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
	})
}

// stamped records when each job reached the backend.
type stamped struct {
	port.Queue
	mu sync.Mutex
	at map[string]time.Time
}

func (s *stamped) Enqueue(ctx context.Context, msgs []port.Message) ([]port.Enqueued, error) {
	res, err := s.Queue.Enqueue(ctx, msgs)
	now := time.Now()
	s.mu.Lock()
	for _, m := range msgs {
		s.at[m.ID] = now
	}
	s.mu.Unlock()
	return res, err
}

// Added latency: from a transaction's commit to its job in the Redis
// stream, one job per transaction every 2 ms, with the relay woken by
// LISTEN/NOTIFY and, as the baseline, polling every 100 ms.
func BenchmarkRelayLatency(b *testing.B) {
	for _, tc := range []struct {
		name   string
		listen bool
		poll   time.Duration
	}{{"notify", true, time.Second}, {"poll=100ms", false, 100 * time.Millisecond}} {
		b.Run(tc.name, func(b *testing.B) {
			db := openDB(b, datatest.PostgresDSN(b))
			backend := &stamped{Queue: streamBackend(b), at: map[string]time.Time{}}
			cfg := queue.DefaultConfig()
			cfg.Outbox.Enabled, cfg.Outbox.Notify = true, tc.listen
			c, err := queue.New(queue.Params{Backend: backend, Config: cfg})
			if err != nil {
				b.Fatal(err)
			}
			relay, err := outbox.NewRelay(db, backend, outbox.Config{Poll: tc.poll, Listen: tc.listen}, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := relay.Start(); err != nil {
				b.Fatal(err)
			}
			defer relay.Stop(context.Background())
			time.Sleep(100 * time.Millisecond) // LISTEN in place
			committed := make(map[string]time.Time, b.N)
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
			b.ResetTimer()
			for range b.N {
				<-tick.C
				var id string
				if err := db.Transaction(func(tx *gorm.DB) (err error) {
					id, err = c.EnqueueTx(tx, "bench", 1)
					return err
				}); err != nil {
					b.Fatal(err)
				}
				committed[id] = time.Now()
			}
			var lat []time.Duration
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				backend.mu.Lock()
				n := len(backend.at)
				backend.mu.Unlock()
				if n >= len(committed) || time.Now().After(deadline) {
					break
				}
			}
			b.StopTimer()
			backend.mu.Lock()
			for id, at := range committed {
				if sent, ok := backend.at[id]; ok {
					lat = append(lat, max(sent.Sub(at), 0))
				}
			}
			backend.mu.Unlock()
			if len(lat) != len(committed) {
				b.Fatalf("%d of %d jobs reached the stream", len(lat), len(committed))
			}
			slices.Sort(lat)
			pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
		})
	}
}
