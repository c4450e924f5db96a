package data_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/internal/testservice"
)

// configResolver returns the config edit makes and ConfigResolver of it.
func configResolver(edit func(cfg *data.Config)) (data.Config, data.TenantResolver) {
	cfg := data.DefaultConfig()
	edit(&cfg)
	return cfg, data.ConfigResolver(cfg)
}

// ConfigResolver passes the resolver suite in each of its modes: listed
// tenants (SQLite files, Postgres schemas), a database per tenant from
// dsn_template (Postgres, MariaDB) and a schema per tenant from
// schema_template (Postgres).
func TestResolverConformance(t *testing.T) {
	t.Parallel()
	listed := datatest.ResolverFeatures{Lists: true}
	templated := datatest.ResolverFeatures{}
	t.Run("ListedSQLite", func(t *testing.T) {
		t.Parallel()
		datatest.RunResolver(t, listed, func(t *testing.T, ids []string) (data.Config, data.TenantResolver) {
			dir := t.TempDir()
			return configResolver(func(cfg *data.Config) {
				cfg.SQLitePath = filepath.Join(dir, "primary.db")
				cfg.Tenancy.Tenants = map[string]data.TenantConfig{}
				for _, id := range ids {
					cfg.Tenancy.Tenants[id] = data.TenantConfig{DSN: app.NewSecret("sqlite:" + filepath.Join(dir, id+".db"))}
				}
			})
		})
	})
	t.Run("ListedPostgresSchemas", func(t *testing.T) {
		t.Parallel()
		datatest.RunResolver(t, listed, func(t *testing.T, ids []string) (data.Config, data.TenantResolver) {
			prefix := testservice.Unique("rl")
			return configResolver(func(cfg *data.Config) {
				cfg.Tenancy.Tenants = map[string]data.TenantConfig{}
				for _, id := range ids {
					cfg.DSN = app.NewSecret(datatest.PostgresSchema(t, prefix+id))
					cfg.Tenancy.Tenants[id] = data.TenantConfig{Schema: prefix + id}
				}
			})
		})
	})
	t.Run("PostgresDatabaseTemplate", func(t *testing.T) {
		t.Parallel()
		datatest.RunResolver(t, templated, func(t *testing.T, ids []string) (data.Config, data.TenantResolver) {
			prefix := testservice.Unique("rd")
			for _, id := range ids {
				datatest.PostgresDatabase(t, prefix+id)
			}
			base := testservice.Need(t, testservice.Postgres)
			tmpl := strings.Replace(datatest.PostgresWithDatabase(base, "TENANTDB"), "TENANTDB", prefix+"{tenant}", 1)
			return configResolver(func(cfg *data.Config) {
				cfg.DSN, cfg.Tenancy.DSNTemplate = app.NewSecret(base), app.NewSecret(tmpl)
			})
		})
	})
	t.Run("PostgresSchemaTemplate", func(t *testing.T) {
		t.Parallel()
		datatest.RunResolver(t, templated, func(t *testing.T, ids []string) (data.Config, data.TenantResolver) {
			prefix := testservice.Unique("rs")
			base := testservice.Need(t, testservice.Postgres)
			for _, id := range ids {
				datatest.PostgresSchema(t, prefix+id)
			}
			return configResolver(func(cfg *data.Config) {
				cfg.DSN, cfg.Tenancy.SchemaTemplate = app.NewSecret(base), prefix+"{tenant}"
			})
		})
	})
	t.Run("MariaDBDatabaseTemplate", func(t *testing.T) {
		t.Parallel()
		datatest.RunResolver(t, templated, func(t *testing.T, ids []string) (data.Config, data.TenantResolver) {
			prefix := testservice.Unique("rm")
			for _, id := range ids {
				datatest.MySQLDatabase(t, prefix+id)
			}
			base := testservice.Need(t, testservice.MySQL)
			tmpl := strings.Replace(datatest.MySQLWithDatabase(base, "TENANTDB"), "TENANTDB", prefix+"{tenant}", 1)
			return configResolver(func(cfg *data.Config) {
				cfg.DSN, cfg.Tenancy.DSNTemplate = app.NewSecret(base), app.NewSecret(tmpl)
			})
		})
	})
}
