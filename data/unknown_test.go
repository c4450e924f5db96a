package data_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/internal/testservice"
)

func newTenancyConfig(t testing.TB, res data.TenantResolver, edit func(*data.TenancyConfig)) *data.Databases {
	t.Helper()
	cfg := data.DefaultConfig()
	cfg.SQLitePath = filepath.Join(t.TempDir(), "primary.db")
	cfg.Tenancy.Enabled, cfg.Tenancy.MaxOpen, cfg.Tenancy.IdleTTL = true, 10, time.Hour
	edit(&cfg.Tenancy)
	d, err := data.New(cfg, data.Params{Resolver: res})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func tenantDB(d *data.Databases, id string) error {
	_, err := d.DB(app.WithTenant(context.Background(), id))
	return err
}

// A tenant found unknown is remembered: the next requests for it reach
// neither the resolver nor a database. Resolver failures (503) are not
// remembered, and concurrent first requests still share one resolve.
func TestTenantUnknownRemembered(t *testing.T) {
	t.Parallel()
	res := &countingResolver{next: sqliteTenants(t.TempDir(), "acme")}
	d := newTenancy(t, res, 10, time.Hour)
	for range 3 {
		if err := tenantDB(d, "initech"); !errors.Is(err, data.ErrUnknownTenant) {
			t.Fatalf("initech: %v", err)
		}
	}
	if n, st := res.calls.Load(), d.TenantStats(); n != 1 || st.Unknown != 1 || st.UnknownCacheHits != 2 {
		t.Fatalf("3 requests for an unknown tenant: %d resolves, stats %+v; want 1 resolve, 2 cache hits", n, st)
	}
	for range 3 {
		if err := tenantDB(d, "broken"); err == nil || errors.Is(err, data.ErrUnknownTenant) {
			t.Fatalf("broken: %v, want a resolver failure", err)
		}
	}
	if n := res.calls.Load(); n != 4 {
		t.Fatalf("3 requests for a tenant whose resolve fails: %d resolves in all, want 4 (failures are not remembered)", n)
	}
	if err := tenantDB(d, "acme"); err != nil {
		t.Fatal(err)
	}

	slow := &countingResolver{next: data.ResolverFunc(func(ctx context.Context, id string) (data.TenantDB, error) {
		time.Sleep(100 * time.Millisecond)
		return data.TenantDB{}, data.ErrUnknownTenant
	})}
	d = newTenancy(t, slow, 10, time.Hour)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if err := tenantDB(d, "ghost"); !errors.Is(err, data.ErrUnknownTenant) {
				t.Errorf("ghost: %v", err)
			}
		})
	}
	wg.Wait()
	if n := slow.calls.Load(); n != 1 {
		t.Fatalf("32 concurrent requests for an unknown tenant: %d resolves", n)
	}
}

// The cache holds about unknown_cache_size IDs, each for unknown_ttl: a
// tenant created meanwhile is reachable once it has passed.
func TestTenantUnknownBoundedAndExpires(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var created atomic.Bool
	res := &countingResolver{next: data.ResolverFunc(func(ctx context.Context, id string) (data.TenantDB, error) {
		if id == "late" && created.Load() {
			return sqliteTenants(dir, id).Resolve(ctx, id)
		}
		return data.TenantDB{}, data.ErrUnknownTenant
	})}
	d := newTenancyConfig(t, res, func(c *data.TenancyConfig) { c.UnknownCacheSize = 2 })
	const ids = 200
	for round := range 2 {
		for i := range ids {
			if err := tenantDB(d, fmt.Sprintf("u%d", i)); !errors.Is(err, data.ErrUnknownTenant) {
				t.Fatalf("round %d, u%d: %v", round, i, err)
			}
		}
	}
	// 200 IDs resolved once each; of the second round, at most a few were
	// still remembered: the cache holds about 2.
	if n := res.calls.Load(); n < 2*ids-10 {
		t.Fatalf("%d resolves for 2 x %d unknown IDs with unknown_cache_size 2: more were remembered than the cache holds", n, ids)
	}

	ttl := 100 * time.Millisecond
	d = newTenancyConfig(t, res, func(c *data.TenancyConfig) { c.UnknownTTL = ttl })
	if err := tenantDB(d, "late"); !errors.Is(err, data.ErrUnknownTenant) {
		t.Fatalf("late before creation: %v", err)
	}
	created.Store(true)
	time.Sleep(2 * ttl)
	if err := tenantDB(d, "late"); err != nil {
		t.Fatalf("late, created, after unknown_ttl: %v", err)
	}
}

// A tenant whose database does not exist is remembered as unknown too:
// no connection is attempted for the next requests.
func TestTenantMissingDatabaseRemembered(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(testservice.Need(t, testservice.Postgres))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + testservice.Unique("missing")
	missing := u.String()
	res := &countingResolver{next: data.ResolverFunc(func(ctx context.Context, id string) (data.TenantDB, error) {
		return data.TenantDB{DSN: app.NewSecret(missing)}, nil
	})}
	d := newTenancy(t, res, 10, time.Hour)
	for range 3 {
		if err := tenantDB(d, "nodb"); !errors.Is(err, data.ErrUnknownTenant) {
			t.Fatalf("nodb: %v", err)
		}
	}
	if n, st := res.calls.Load(), d.TenantStats(); n != 1 || st.UnknownCacheHits != 2 {
		t.Fatalf("3 requests for a tenant without a database: %d resolves (and connects), stats %+v; want 1", n, st)
	}
}
