package gormrepo_test

import (
	"context"
	"testing"

	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/examples/service/domain"
	"github.com/apexgo/apex/examples/service/domain/domaintest"
	"github.com/apexgo/apex/examples/service/gormrepo"
	"github.com/apexgo/apex/examples/service/migrations"
)

// The contract of the storage ports, on every database the service runs
// on, each test on a database (or schema) of its own with the
// service's migrations applied.
func TestContract(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{
		"sqlite": datatest.SQLiteDSN, "postgres": datatest.PostgresDSN, "mysql": datatest.MySQLDSN,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			domaintest.RunRepository(t, func(t *testing.T) domain.Repository {
				db := datatest.Open(t, dsn(t))
				m, err := data.NewMigrator(db, migrations.FS(), data.MigratorParams{Table: migrations.Table})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = m.Close() })
				if _, err := m.Up(context.Background()); err != nil {
					t.Fatal(err)
				}
				return gormrepo.New(data.Single(db))
			})
		})
	}
}
