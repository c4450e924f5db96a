package datatest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/data"
)

// RunResolverConcurrent calls Resolve from many goroutines at once for
// known and unknown tenants (run it with -race): every call answers as a
// lone one would.
func RunResolverConcurrent(t *testing.T, f ResolverFeatures, newResolver NewResolver) {
	known := tenantIDs(2)
	_, r := newResolver(t, known)
	unknown := TenantID()
	ctx := context.Background()
	want := map[string]data.TenantDB{}
	for _, id := range known {
		td, err := r.Resolve(ctx, id)
		if err != nil {
			t.Fatalf("Resolve(%s): %v", id, err)
		}
		want[id] = td
	}
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			id := known[i%len(known)]
			td, err := r.Resolve(ctx, id)
			if err != nil || td.DSN.Reveal() != want[id].DSN.Reveal() || td.Schema != want[id].Schema {
				t.Errorf("concurrent Resolve(%s) differs from a lone one: %v", id, err)
			}
			if f.Lists {
				if _, err := r.Resolve(ctx, unknown); !errors.Is(err, data.ErrUnknownTenant) {
					t.Errorf("concurrent Resolve(%s), unknown: %v", unknown, err)
				}
			}
		})
	}
	wg.Wait()
}

// RunResolverCanceled calls Resolve with a context already canceled: it
// must return (with an error or a tenant), not hang.
func RunResolverCanceled(t *testing.T, _ ResolverFeatures, newResolver NewResolver) {
	known := tenantIDs(1)
	_, r := newResolver(t, known)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = r.Resolve(ctx, known[0])
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Resolve with a canceled context has not returned after 30s: it must honour ctx")
	}
}
