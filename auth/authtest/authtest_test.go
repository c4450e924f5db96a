package authtest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/auth/authtest"
	"github.com/apexgo/apex/auth/memory"
)

// userStores is what a user's own adapter looks like from outside apex:
// its own types implementing the ports (here over a map of memory stores,
// one per prefix, so that two instances on one prefix share data).
type userStores struct {
	mu       sync.Mutex
	byPrefix map[string]authtest.Backend
	calls    map[string]int
}

type userRevocations struct {
	s    *userStores
	next auth.Revocations
}

func (r userRevocations) Revoke(ctx context.Context, id string, until time.Time) error {
	r.s.count("Revoke")
	return r.next.Revoke(ctx, id, until)
}

func (r userRevocations) Revoked(ctx context.Context, id string, exp time.Time) (bool, error) {
	r.s.count("Revoked")
	return r.next.Revoked(ctx, id, exp)
}

type userRefresh struct {
	s    *userStores
	next auth.RefreshStore
}

func (r userRefresh) Create(ctx context.Context, rec auth.RefreshRecord) error {
	r.s.count("Create")
	return r.next.Create(ctx, rec)
}

func (r userRefresh) Rotate(ctx context.Context, family string, hash []byte, next auth.RefreshRecord) (auth.RefreshRecord, error) {
	r.s.count("Rotate")
	return r.next.Rotate(ctx, family, hash, next)
}

func (r userRefresh) RevokeFamily(ctx context.Context, family string, hash []byte) error {
	r.s.count("RevokeFamily")
	return r.next.RevokeFamily(ctx, family, hash)
}

func (s *userStores) count(m string) {
	s.mu.Lock()
	s.calls[m]++
	s.mu.Unlock()
}

func (s *userStores) backend(t *testing.T, prefix string) authtest.Backend {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.byPrefix[prefix]
	if !ok {
		b = authtest.Backend{Revocations: memory.NewRevocations(memory.Config{}), Refresh: memory.NewRefresh(memory.Config{})}
		s.byPrefix[prefix] = b
	}
	return authtest.Backend{Revocations: userRevocations{s, b.Revocations}, Refresh: userRefresh{s, b.Refresh}}
}

// A user's adapter, written outside apex, runs the whole suite: shared
// between instances, each test on a prefix of its own that the suite made
// up.
func TestUserAdapter(t *testing.T) {
	t.Parallel()
	s := &userStores{byPrefix: map[string]authtest.Backend{}, calls: map[string]int{}}
	authtest.Run(t, authtest.Features{Shared: true}, s.backend)
	t.Cleanup(func() { // after every parallel subtest
		if len(s.byPrefix) < 15 {
			t.Errorf("the suite used %d prefixes; want one per test", len(s.byPrefix))
		}
		for _, m := range []string{"Revoke", "Revoked", "Create", "Rotate", "RevokeFamily"} {
			if s.calls[m] == 0 {
				t.Errorf("the suite never called %s", m)
			}
		}
	})
}

// One behaviour runs on its own, with the same arguments.
func TestOneBehaviour(t *testing.T) {
	t.Parallel()
	authtest.Rotate(t, authtest.Features{}, func(*testing.T, string) authtest.Backend {
		return authtest.Backend{Revocations: memory.NewRevocations(memory.Config{}), Refresh: memory.NewRefresh(memory.Config{})}
	})
}
