package main

import (
	"net/http"
	"testing"

	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/httpx"
)

func TestMinimal(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, options())

	r := a.Do(t, http.MethodPost, "/items", `{"name":"lamp","price_cents":1999}`)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", r.StatusCode, r.Body)
	}
	var it Item
	r.JSON(t, &it)
	if it.ID != 1 || it.Name != "lamp" {
		t.Fatalf("created %+v", it)
	}
	if r := a.Do(t, http.MethodGet, "/items/1", ""); r.StatusCode != http.StatusOK {
		t.Fatalf("get: %d", r.StatusCode)
	}
	var p httpx.Problem
	r = a.Do(t, http.MethodGet, "/items/42", "")
	r.JSON(t, &p)
	if r.StatusCode != 404 || p.Detail != "item 42: item not found" {
		t.Fatalf("not found: %d %s", r.StatusCode, r.Body)
	}
	if r := a.Do(t, http.MethodPost, "/items", `{"price_cents":-1}`); r.StatusCode != 422 {
		t.Fatalf("validation: %d %s", r.StatusCode, r.Body)
	}
	if r := a.Do(t, http.MethodGet, "/panic", ""); r.StatusCode != 404 {
		t.Fatalf("/panic must be off by default: %d", r.StatusCode)
	}
}

func TestMinimalPanicRoute(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, options(), apptest.Env("APP_MINIMAL__PANIC_ROUTE=true"))
	if r := a.Do(t, http.MethodGet, "/panic", ""); r.StatusCode != 500 {
		t.Fatalf("/panic: %d %s", r.StatusCode, r.Body)
	}
	// The panic raised an alert through the log-only fallback.
	a.WaitForLog(t, "alert", 5*1e9)
}
