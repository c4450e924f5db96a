package datatest

import (
	"context"
	"testing"
	"time"

	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/internal/testservice"
)

// ResolverFeatures says what a [data.TenantResolver] can do that
// [RunResolver] checks.
type ResolverFeatures struct {
	// Lists: Resolve itself answers an error wrapping data.ErrUnknownTenant
	// for an ID it has no tenant for (a list, a control table), so an
	// unknown tenant costs no connection. False for templates, which
	// resolve any ID: the registry finds out from the server's catalog or
	// by connecting.
	Lists bool
}

// NewResolver returns a resolver that knows the tenants ids, and only
// those, each with a database or schema of its own created for the test
// and dropped when t ends, and the config the registry runs it with (its
// primary DSN, templates, pool sizes; the suite turns tenancy on). The
// suite generates ids per test: valid tenant IDs of 14 bytes that no other
// test uses.
type NewResolver func(t *testing.T, ids []string) (data.Config, data.TenantResolver)

// RunResolver runs every behaviour of the resolver suite, each in a
// parallel subtest with tenants of its own.
func RunResolver(t *testing.T, f ResolverFeatures, newResolver NewResolver) {
	for name, run := range map[string]func(*testing.T, ResolverFeatures, NewResolver){
		"Serves": RunResolverServes, "Unknown": RunResolverUnknown,
		"Concurrent": RunResolverConcurrent, "Canceled": RunResolverCanceled,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run(t, f, newResolver)
		})
	}
}

// TenantID returns a tenant ID unique to this run: a letter, then 13
// lower-case letters, digits or '_'.
func TenantID() string { return testservice.Unique("r") }

// tenantIDs returns n fresh tenant IDs.
func tenantIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = TenantID()
	}
	return ids
}

// registry starts a registry running r with tenancy on, closed when the
// test ends.
func registry(t *testing.T, cfg data.Config, r data.TenantResolver) *data.Databases {
	t.Helper()
	cfg.Tenancy.Enabled = true
	if cfg.SQLitePath == data.DefaultSQLitePath && !cfg.DSN.IsSet() {
		cfg.SQLitePath = t.TempDir() + "/primary.db"
	}
	d, err := data.New(cfg, data.Params{Resolver: r})
	if err != nil {
		t.Fatalf("datatest: data.New: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatalf("datatest: start: %v", err)
	}
	return d
}
