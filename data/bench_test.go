package data_test

import (
	"context"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

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

// A primary-key lookup on Postgres: raw gorm (gorm.Open on the pgx
// dialector, no apex logger, translation or tracing plugin) against the
// real Registry (data.New, Registry.DB(ctx), apex's plugins), on the same
// database with the same pool size. The target is under 5% overhead.
func BenchmarkPrimaryKeyLookup(b *testing.B) {
	dsn := datatest.PostgresDSN(b)
	raw, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		b.Fatal(err)
	}
	rawSQL, _ := raw.DB()
	defer rawSQL.Close()
	cfg := data.DefaultConfig()
	cfg.DSN = app.NewSecret(dsn)
	rawSQL.SetMaxOpenConns(cfg.Pool.MaxOpen)
	rawSQL.SetMaxIdleConns(cfg.Pool.MaxIdle)
	if err := raw.AutoMigrate(&note{}); err != nil {
		b.Fatal(err)
	}
	raw.Create(&note{ID: 1, Body: "x"})
	reg, err := data.New(cfg, data.Params{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := reg.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	b.Run("gorm", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var n note
			if err := raw.WithContext(ctx).First(&n, 1).Error; err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("registry", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var n note
			db, err := reg.DB(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := db.First(&n, 1).Error; err != nil {
				b.Fatal(err)
			}
		}
	})
}
