package orders_test

import (
	"context"
	"testing"

	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/examples/repository/migrations"
	"github.com/apexgo/apex/examples/repository/orders"
	"github.com/apexgo/apex/examples/repository/orders/gormrepo"
	"github.com/apexgo/apex/examples/repository/orders/memrepo"
	"github.com/apexgo/apex/examples/repository/orders/orderstest"
)

// One contract, both adapters: memory, and gorm on every database.
func TestRepositories(t *testing.T) {
	t.Parallel()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		orderstest.Run(t, func(t *testing.T) (orders.Repository, orders.Transactor) {
			r := memrepo.New()
			return r, r.Transactor()
		})
	})
	for name, dsn := range map[string]func(testing.TB) string{
		"sqlite": datatest.SQLiteDSN, "postgres": datatest.PostgresDSN, "mysql": datatest.MySQLDSN,
	} {
		t.Run("gorm/"+name, func(t *testing.T) {
			t.Parallel()
			orderstest.Run(t, func(t *testing.T) (orders.Repository, orders.Transactor) {
				db := datatest.Open(t, dsn(t))
				m, err := data.NewMigrator(db, migrations.FS(), data.MigratorParams{})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := m.Up(context.Background()); err != nil {
					t.Fatal(err)
				}
				reg := data.Single(db)
				return gormrepo.New(reg), gormrepo.Transactor(reg)
			})
		})
	}
}
