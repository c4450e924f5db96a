package datatest

import (
	"context"
	"testing"

	"github.com/apexgo/apex/app"
)

// tenantNote is the row each tenant writes.
type tenantNote struct {
	ID    uint `gorm:"primaryKey"`
	Owner string
}

// RunResolverServes checks that every known tenant resolves, that the
// registry serves each its own database or schema (a table and a row
// written by one tenant are invisible to the others), and that a tenant
// stays on the same database across requests.
func RunResolverServes(t *testing.T, _ ResolverFeatures, newResolver NewResolver) {
	ids := tenantIDs(3)
	cfg, r := newResolver(t, ids)
	ctx := context.Background()
	for _, id := range ids {
		if _, err := r.Resolve(ctx, id); err != nil {
			t.Fatalf("Resolve(%s), a known tenant: %v", id, err)
		}
	}
	d := registry(t, cfg, r)
	for _, id := range ids {
		db, err := d.DB(app.WithTenant(ctx, id))
		if err != nil {
			t.Fatalf("tenant %s: %v", id, err)
		}
		if err := db.AutoMigrate(&tenantNote{}); err != nil {
			t.Fatalf("tenant %s: %v", id, err)
		}
		if err := db.Create(&tenantNote{Owner: id}).Error; err != nil {
			t.Fatalf("tenant %s: %v", id, err)
		}
	}
	for _, id := range ids {
		db, err := d.DB(app.WithTenant(ctx, id))
		if err != nil {
			t.Fatalf("tenant %s: %v", id, err)
		}
		var notes []tenantNote
		if err := db.Find(&notes).Error; err != nil {
			t.Fatalf("tenant %s: %v", id, err)
		}
		if len(notes) != 1 || notes[0].Owner != id {
			t.Errorf("tenant %s sees %+v: tenants must not share a database or schema", id, notes)
		}
	}
	if st := d.TenantStats(); st.Opens != int64(len(ids)) || st.Unknown != 0 {
		t.Errorf("stats %+v: want one open per tenant", st)
	}
}
