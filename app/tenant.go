package app

import "context"

type tenantKey struct{}

// WithTenant returns a copy of ctx carrying the tenant ID id. The data
// module's tenancy middleware sets it for each request; jobs and realtime
// carry it on, and auth compares it with a token's tenant.
func WithTenant(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, tenantKey{}, id)
}

// Tenant returns the tenant ID carried by ctx and whether there is one.
// An empty ID set with [WithTenant] counts as none.
func Tenant(ctx context.Context) (string, bool) {
	id, _ := ctx.Value(tenantKey{}).(string)
	return id, id != ""
}
