package cachetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/cache/port"
)

// TestConcurrentUse checks that Set, Get, GetOrLoad and Delete from many goroutines on a few keys never return a wrong value or an error.
func TestConcurrentUse(t *testing.T, f Features, newCache NewCache) {
	t.Parallel()
	c := open(t, newCache)
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
					if errors.Is(err, port.ErrMiss) {
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
}
