package cache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/apexgo/apex/cache"
	"github.com/apexgo/apex/cache/memory"
)

type user struct {
	Name string `json:"name"`
}

// A typed view of a cache loads a value once and serves it from the
// cache afterwards.
func ExampleTyped_GetOrLoad() {
	c, _ := memory.New(memory.Config{MaxEntries: 1000})
	users := cache.NewTyped[user](c, nil)
	load := func(ctx context.Context) (user, error) {
		fmt.Println("loading")
		return user{Name: "Ann"}, nil
	}
	for range 2 {
		u, err := users.GetOrLoad(context.Background(), "user:1", time.Minute, load)
		fmt.Println(u.Name, err)
	}
	// Output:
	// loading
	// Ann <nil>
	// Ann <nil>
}

// A limiter admits a burst, then refuses until the rate allows another
// event.
func ExampleLimiter() {
	l, _ := memory.NewLimiter(memory.LimiterConfig{})
	limit := cache.Limit{Rate: 10, Period: time.Minute, Burst: 2}
	for range 3 {
		r, _ := l.Allow(context.Background(), "ip:192.0.2.1", limit)
		fmt.Println(r.Allowed, r.Remaining, r.RetryAfter.Round(time.Second))
	}
	// Output:
	// true 1 0s
	// true 0 6s
	// false 0 6s
}
