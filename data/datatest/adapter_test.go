package datatest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/data/datatest"
)

// A user's own database setup, written outside apex: it opens SQLite
// files itself and honours the name the suite gives it.
func userDB(t *testing.T, name string) *gorm.DB {
	db, err := data.Open(data.DBConfig{DSN: app.NewSecret("sqlite:" + filepath.Join(t.TempDir(), name+".db"))}, data.OpenParams{})
	if err != nil {
		t.Fatal(err)
	}
	if err := data.Ping(context.Background(), db, 0, "user"); err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { _ = sqlDB.Close() })
	return db
}

// controlTable is a user's TenantResolver: tenants in a table of its own
// (a map here), each on a SQLite file.
type controlTable struct {
	mu      sync.RWMutex
	tenants map[string]string
}

func (c *controlTable) Resolve(ctx context.Context, id string) (data.TenantDB, error) {
	if err := ctx.Err(); err != nil {
		return data.TenantDB{}, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	path, ok := c.tenants[id]
	if !ok {
		return data.TenantDB{}, fmt.Errorf("control table: %w %q", data.ErrUnknownTenant, id)
	}
	return data.TenantDB{DSN: app.NewSecret("sqlite:" + path)}, nil
}

// A user adapter in a _test package runs the database suite, one of its
// behaviours alone, and the resolver suite.
func TestUserAdaptersRunTheSuites(t *testing.T) {
	t.Parallel()
	t.Run("Run", func(t *testing.T) {
		t.Parallel()
		datatest.Run(t, datatest.Features{}, userDB)
	})
	t.Run("RunTx", func(t *testing.T) {
		t.Parallel()
		datatest.RunTx(t, datatest.Features{}, userDB)
	})
	t.Run("RunResolver", func(t *testing.T) {
		t.Parallel()
		datatest.RunResolver(t, datatest.ResolverFeatures{Lists: true}, func(t *testing.T, ids []string) (data.Config, data.TenantResolver) {
			dir := t.TempDir()
			ct := &controlTable{tenants: map[string]string{}}
			for _, id := range ids {
				ct.tenants[id] = filepath.Join(dir, id+".db")
			}
			cfg := data.DefaultConfig()
			cfg.SQLitePath = filepath.Join(dir, "primary.db")
			return cfg, ct
		})
	})
}
