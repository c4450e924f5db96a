package redisconn

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestRecentWritesForgetsOverflow: once the writes that overflowed the set of
// recent keys are older than RecentWindow, reads use local copies again
// and the guard is back to its state before any write.
func TestRecentWritesForgetsOverflow(t *testing.T) {
	t.Parallel()
	// A small bound, so that filling it takes far less than RecentWindow
	// even on a loaded machine (the keys must not age while it fills).
	w := RecentWrites{max: 64}
	for i := range w.max + 1 {
		w.Add(fmt.Sprint("k", i))
	}
	if !w.Contains("never written") {
		t.Fatal("right after an overflow, a key not written is not treated as recent")
	}
	time.Sleep(RecentWindow + 100*time.Millisecond)
	if w.Contains("never written") || w.Contains("k1") {
		t.Fatal("RecentWindow after the last write, a key is still treated as recent")
	}
	if all := w.all.Load(); all != 0 {
		t.Fatalf("RecentWindow after an overflow, all = %d; want 0, so that reads need not read the clock", all)
	}
}

// TestRecentWritesCountConsistent: the count of remembered keys matches the
// keys however adds race with the clearing on overflow. Not parallel: it
// keeps every CPU busy, which would upset the timing of other tests.
func TestRecentWritesCountConsistent(t *testing.T) {
	const goroutines = 4
	keys := make([][]string, goroutines)
	for g := range keys {
		for i := range recentMax / 2 {
			keys[g] = append(keys[g], fmt.Sprint(g, ":", i))
		}
	}
	var w RecentWrites
	for round := range 2 {
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for i, k := range keys[g] {
					w.Add(k)
					if i%64 == 0 {
						w.Contains(keys[g][i/2])
					}
				}
			})
		}
		wg.Wait()
		count := 0
		w.keys.Range(func(any, any) bool { count++; return true })
		if n := w.n.Load(); n != int64(count) {
			t.Fatalf("round %d: n = %d, but %d keys are remembered", round, n, count)
		}
		if count > recentMax {
			t.Fatalf("round %d: %d keys remembered, more than recentMax %d", round, count, recentMax)
		}
	}
}
