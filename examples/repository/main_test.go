package main

import (
	"net/http"
	"testing"

	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/examples/repository/orders"
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
			a := apptest.New(t, apptest.Modules(options()...), apptest.Config(config(t)))
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
