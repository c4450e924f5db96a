package data

import (
	"context"
	"fmt"
	"strings"

	"github.com/apexgo/apex/app"
)

// configured reports whether the config describes any tenant.
func (t TenancyConfig) configured() bool {
	return len(t.Tenants) > 0 || t.DSNTemplate.IsSet() || t.SchemaTemplate != ""
}

// ConfigResolver resolves tenants from cfg.Tenancy: a tenant listed under
// tenants is found there; otherwise dsn_template gives it a database of its
// own and schema_template a schema in the primary database; otherwise it
// is unknown. With a template, any valid ID resolves: the registry finds
// out whether its database or schema exists (from the server's catalog
// when it can, see data.tenancy.catalog_ttl, else by connecting).
func ConfigResolver(cfg Config) TenantResolver {
	t := cfg.Tenancy
	prim := cfg.primary()
	return configResolver(func(_ context.Context, id string) (TenantDB, error) {
		if tc, ok := t.Tenants[id]; ok {
			td := TenantDB{Driver: tc.Driver, DSN: tc.DSN, Schema: tc.Schema}
			if !td.DSN.IsSet() {
				td.Driver, td.DSN = prim.Driver, prim.DSN
			}
			return td, nil
		}
		switch {
		case t.DSNTemplate.IsSet():
			return TenantDB{DSN: app.NewSecret(strings.ReplaceAll(t.DSNTemplate.Reveal(), "{tenant}", id))}, nil
		case t.SchemaTemplate != "":
			return TenantDB{Driver: prim.Driver, DSN: prim.DSN, Schema: strings.ReplaceAll(t.SchemaTemplate, "{tenant}", id)}, nil
		}
		return TenantDB{}, fmt.Errorf("%w %q", ErrUnknownTenant, id)
	})
}

// configResolver is ConfigResolver's: IDs it is given are limited by the
// templates' room.
type configResolver func(ctx context.Context, id string) (TenantDB, error)

func (f configResolver) Resolve(ctx context.Context, id string) (TenantDB, error) { return f(ctx, id) }

func isConfigResolver(r TenantResolver) bool {
	_, ok := r.(configResolver)
	return ok
}
