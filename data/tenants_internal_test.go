package data

import (
	"context"
	"testing"

	"github.com/apexgo/apex/app"
)

// The registry's own part of Registry.DB for an open tenant: the lookup,
// without gorm's session.
func BenchmarkTenantLookup(b *testing.B) {
	cfg := DefaultConfig()
	cfg.SQLitePath = b.TempDir() + "/primary.db"
	cfg.Tenancy.Enabled = true
	cfg.Tenancy.DSNTemplate = app.NewSecret("sqlite:" + b.TempDir() + "/{tenant}.db")
	d, err := New(cfg, Params{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if _, err := d.tenants.get(ctx, "acme", false); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := d.tenants.get(ctx, "acme", false); err != nil {
				b.Fatal(err)
			}
		}
	})
}
