package main

import (
	"net/http"
	"testing"

	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/examples/repository/orders"
	"github.com/apexgo/apex/internal/testservice"
)

// The whole service, on the SQLite fallback and on Postgres.
func TestRepositoryExample(t *testing.T) {
	t.Parallel()
	for name, config := range map[string]func(t *testing.T) map[string]any{
		"sqlite":   func(t *testing.T) map[string]any { return nil },
		"postgres": func(t *testing.T) map[string]any { return map[string]any{"data.dsn": datatest.PostgresDSN(t)} },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := apptest.New(t, options(), apptest.Config(config(t)))
			r := a.Do(t, http.MethodPost, "/orders", `{"reference":"r-1","customer":"ann","total_cents":1999}`)
			if r.StatusCode != http.StatusCreated {
				t.Fatalf("place: %d %s", r.StatusCode, r.Body)
			}
			var o orders.Order
			r.JSON(t, &o)
			if r := a.Do(t, http.MethodGet, "/orders/"+o.ID, ""); r.StatusCode != http.StatusOK {
				t.Fatalf("get: %d %s", r.StatusCode, r.Body)
			}
			checks := []struct {
				method, path, body string
				want               int
			}{
				{http.MethodGet, "/orders/nope", "", http.StatusNotFound},
				{http.MethodPost, "/orders", `{"reference":"r-1","customer":"bob"}`, http.StatusConflict},
				{http.MethodPost, "/orders", `{"customer":"bob"}`, http.StatusUnprocessableEntity},
				{http.MethodPost, "/orders", `{"reference":"big","customer":"bob","total_cents":999999999999}`, http.StatusUnprocessableEntity},
				{http.MethodPost, "/orders/batch", `[{"reference":"b-1","customer":"cat"},{"reference":"r-1","customer":"cat"}]`, http.StatusConflict},
				{http.MethodPost, "/orders/batch", `[{"reference":"b-1","customer":"cat"},{"reference":"b-2","customer":"cat"}]`, http.StatusCreated},
				{http.MethodGet, "/orders", "", http.StatusBadRequest},
			}
			for _, c := range checks {
				if r := a.Do(t, c.method, c.path, c.body); r.StatusCode != c.want {
					t.Errorf("%s %s %s: %d %s, want %d", c.method, c.path, c.body, r.StatusCode, r.Body, c.want)
				}
			}
			var list []orders.Order
			a.Do(t, http.MethodGet, "/orders?customer=cat", "").JSON(t, &list)
			if len(list) != 2 {
				t.Fatalf("cat has %d orders (the failed batch must leave none)", len(list))
			}
		})
	}
}

// A schema per tenant on Postgres: the orders table (a model with a
// TableName) of each tenant is its own — the same reference in two
// tenants is no conflict, and neither sees the other's orders.
func TestRepositoryExampleSchemaTenants(t *testing.T) {
	t.Parallel()
	u := testservice.Unique("ord")
	for _, id := range []string{"a", "b"} {
		datatest.PostgresSchema(t, u+"_"+id)
	}
	a := apptest.New(t, options(), apptest.Config(map[string]any{
		"data.dsn": datatest.PostgresDSN(t), "data.tenancy.enabled": true,
		"data.tenancy.schema_template": u + "_{tenant}", "data.tenancy.migrate_on_open": true,
	}))
	ids := map[string]string{}
	for _, tenant := range []string{"a", "b"} {
		r := a.Do(t, http.MethodPost, "/orders", `{"reference":"r-1","customer":"ann","total_cents":100}`, "X-Tenant-ID", tenant)
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("tenant %s: place: %d %s", tenant, r.StatusCode, r.Body)
		}
		var o orders.Order
		r.JSON(t, &o)
		ids[tenant] = o.ID
	}
	for _, tenant := range []string{"a", "b"} {
		var list []orders.Order
		a.Do(t, http.MethodGet, "/orders?customer=ann", "", "X-Tenant-ID", tenant).JSON(t, &list)
		if len(list) != 1 || list[0].ID != ids[tenant] {
			t.Errorf("tenant %s sees %+v, want only its order %s", tenant, list, ids[tenant])
		}
	}
	if r := a.Do(t, http.MethodGet, "/orders/"+ids["a"], "", "X-Tenant-ID", "b"); r.StatusCode != http.StatusNotFound {
		t.Errorf("tenant b reads tenant a's order: %d %s", r.StatusCode, r.Body)
	}
}

// Without data.dsn and data.sqlite_path the example works on a file of its
// own, var/repository.db, not the shared default var/apex.db; a path set
// in config is kept.
func TestRepositoryOwnDatabaseFile(t *testing.T) {
	t.Parallel()
	if got := ownDatabase(data.DefaultConfig()).SQLitePath; got != SQLitePath || got == data.DefaultSQLitePath {
		t.Fatalf("default SQLite path %q, want %q", got, SQLitePath)
	}
	c := data.DefaultConfig()
	c.SQLitePath = "elsewhere.db"
	if got := ownDatabase(c).SQLitePath; got != "elsewhere.db" {
		t.Fatalf("configured path replaced by %q", got)
	}
}
