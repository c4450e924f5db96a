package redisconn

import (
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/apexgo/apex/internal/testservice"
)

// BenchmarkFailFastOverhead compares the shared client with the rueidis
// client under it, side by side: a GET and a client-side cached GET
// (a local hit), on a context with a request's deadline.
func BenchmarkFailFastOverhead(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Addr = testservice.Need(b, testservice.Redis)
	c, err := New(b.Context(), cfg, Params{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	key := testservice.Unique("apexbench")
	if err := c.Do(b.Context(), c.B().Set().Key(key).Value("v").Ex(time.Minute).Build()).Error(); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		client rueidis.Client
	}{{"rueidis", c.(*client).Client}, {"shared", c}} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		b.Run(tc.name+"/GET", func(b *testing.B) {
			for b.Loop() {
				if err := tc.client.Do(ctx, tc.client.B().Get().Key(key).Build()).Error(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/cached-GET", func(b *testing.B) {
			for b.Loop() {
				if err := tc.client.DoCache(ctx, tc.client.B().Get().Key(key).Cache(), time.Minute).Error(); err != nil {
					b.Fatal(err)
				}
			}
		})
		cancel()
	}
}
