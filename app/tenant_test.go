package app_test

import (
	"context"
	"testing"

	"github.com/apexgo/apex/app"
)

func TestTenant(t *testing.T) {
	t.Parallel()
	if id, ok := app.Tenant(context.Background()); ok || id != "" {
		t.Fatalf("Tenant(empty ctx) = %q, %v", id, ok)
	}
	ctx := app.WithTenant(context.Background(), "acme")
	if id, ok := app.Tenant(ctx); !ok || id != "acme" {
		t.Fatalf("Tenant = %q, %v; want acme, true", id, ok)
	}
	if _, ok := app.Tenant(app.WithTenant(ctx, "")); ok {
		t.Fatal("an empty tenant ID counts as a tenant")
	}
}
