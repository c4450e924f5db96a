package data_test

import (
	"context"
	"testing"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/data/datatest"
)

// Registry.DB for a tenant whose pool is open: target under 1 µs, and no
// allocation beyond gorm's own session (WithContext).
func BenchmarkRegistryDBTenant(b *testing.B) {
	d := newTenancy(b, sqliteTenants(b.TempDir(), "acme"), 50, time.Hour)
	ctx := app.WithTenant(context.Background(), "acme")
	if _, err := d.DB(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.DB(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// gorm's own session cost, for comparison with the benchmark above.
func BenchmarkGormWithContext(b *testing.B) {
	d := newTenancy(b, sqliteTenants(b.TempDir(), "acme"), 50, time.Hour)
	db := d.Primary()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = db.WithContext(ctx)
	}
}

// A primary-key lookup on Postgres through Registry.DB against raw gorm
// on the same pool: the target is under 5% overhead.
func BenchmarkPrimaryKeyLookup(b *testing.B) {
	db := datatest.Open(b, datatest.PostgresDSN(b))
	if err := db.AutoMigrate(&note{}); err != nil {
		b.Fatal(err)
	}
	db.Create(&note{ID: 1, Body: "x"})
	reg := data.Single(db)
	ctx := context.Background()
	b.Run("gorm", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var n note
			if err := db.WithContext(ctx).First(&n, 1).Error; err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("registry", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var n note
			tx, err := reg.DB(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := tx.First(&n, 1).Error; err != nil {
				b.Fatal(err)
			}
		}
	})
}
