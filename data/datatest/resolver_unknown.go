package datatest

import (
	"context"
	"errors"
	"testing"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/data"
)

// RunResolverUnknown checks that IDs the resolver does not know are
// unknown tenants through the registry (data.ErrUnknownTenant, a 404 at
// the edge), never another tenant's database, and, with f.Lists, that
// Resolve itself says so without the registry connecting.
func RunResolverUnknown(t *testing.T, f ResolverFeatures, newResolver NewResolver) {
	known := tenantIDs(1)
	cfg, r := newResolver(t, known)
	ctx := context.Background()
	unknown := tenantIDs(3)
	if f.Lists {
		for _, id := range unknown {
			if _, err := r.Resolve(ctx, id); !errors.Is(err, data.ErrUnknownTenant) {
				t.Errorf("Resolve(%s), an unknown tenant: %v, want an error wrapping data.ErrUnknownTenant", id, err)
			}
		}
	}
	d := registry(t, cfg, r)
	for _, id := range unknown {
		if _, err := d.DB(app.WithTenant(ctx, id)); !errors.Is(err, data.ErrUnknownTenant) {
			t.Errorf("registry, unknown tenant %s: %v, want data.ErrUnknownTenant", id, err)
		}
	}
	st := d.TenantStats()
	if f.Lists && st.Connects != 0 {
		t.Errorf("%d connection attempts for unknown tenants of a resolver that lists its tenants", st.Connects)
	}
	if st.Open != 0 {
		t.Errorf("%d pools open after unknown tenants only", st.Open)
	}
	if _, err := d.DB(app.WithTenant(ctx, known[0])); err != nil {
		t.Errorf("known tenant %s after unknown ones: %v", known[0], err)
	}
}
