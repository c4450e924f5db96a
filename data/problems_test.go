package data_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/httpx"
)

type probeItem struct {
	ID    uint   `gorm:"primaryKey"`
	Token string `gorm:"size:64;uniqueIndex:probe_items_token_key"`
}

// A unique violation answers 409 with code conflict and a generic detail:
// no driver text, constraint name or value reaches the client; the log
// line of the statement keeps the constraint. Every sentinel answers with
// its own code.
func TestProblemsHideDriverText(t *testing.T) {
	t.Parallel()
	var reg data.Registry
	a := apptest.New(t, apex.Modules, apptest.Config(map[string]any{"data.dsn": datatest.PostgresDSN(t)}),
		apptest.With(fx.Populate(&reg), fx.Invoke(func(e *echo.Echo) {
			e.POST("/items", func(c echo.Context) error {
				db, err := reg.DB(c.Request().Context())
				if err != nil {
					return err
				}
				if err := db.Create(&probeItem{Token: "s3cret-token"}).Error; err != nil {
					return fmt.Errorf("create item: %w", err)
				}
				return c.NoContent(http.StatusCreated)
			})
			e.GET("/missing", func(c echo.Context) error {
				db, _ := reg.DB(c.Request().Context())
				var it probeItem
				return db.First(&it, 42).Error
			})
			for path, err := range map[string]error{"/fk": data.ErrForeignKey, "/retry": data.ErrRetryable,
				"/closed": data.ErrClosed, "/tenant": data.ErrUnknownTenant} {
				e.GET(path, func(c echo.Context) error { return fmt.Errorf("wrapped: %w", err) })
			}
		})))
	if err := reg.Primary().AutoMigrate(&probeItem{}); err != nil {
		t.Fatal(err)
	}
	if r := a.Do(t, http.MethodPost, "/items", ""); r.StatusCode != http.StatusCreated {
		t.Fatalf("first insert: %d %s", r.StatusCode, r.Body)
	}
	r := a.Do(t, http.MethodPost, "/items", "")
	var p httpx.Problem
	r.JSON(t, &p)
	if r.StatusCode != http.StatusConflict || p.Code != httpx.CodeConflict {
		t.Fatalf("duplicate: %d %s", r.StatusCode, r.Body)
	}
	for _, leak := range []string{"SQLSTATE", "probe_items_token_key", "duplicate key", "s3cret", "create item"} {
		if strings.Contains(string(r.Body), leak) {
			t.Errorf("the 409 body shows %q: %s", leak, r.Body)
		}
	}
	logged := false
	for _, e := range a.Logs.FilterMessage("query failed").All() {
		if strings.Contains(fmt.Sprint(e.ContextMap()["error"]), "probe_items_token_key") {
			logged = true
		}
	}
	if !logged {
		t.Errorf("no log line names the constraint: %v", a.LogLines())
	}
	for path, want := range map[string]struct {
		status int
		code   string
	}{
		"/missing": {404, httpx.CodeNotFound}, "/fk": {409, data.CodeReferenceConflict},
		"/retry": {503, httpx.CodeUnavailable}, "/closed": {503, httpx.CodeUnavailable},
		"/tenant": {404, httpx.CodeTenantUnknown},
	} {
		r := a.Do(t, http.MethodGet, path, "")
		var p httpx.Problem
		r.JSON(t, &p)
		if r.StatusCode != want.status || p.Code != want.code || strings.Contains(p.Detail, "data:") {
			t.Errorf("%s: %d %s, want %d with code %s and a generic detail", path, r.StatusCode, r.Body, want.status, want.code)
		}
		if want.status == 503 && r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", path)
		}
	}
}

// errors.As finds the problem of a translated error or a sentinel, with
// the cause kept for the log.
func TestSentinelsAreProblems(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("repo: %w", &data.Error{Kind: data.ErrConflict, Err: errors.New(`duplicate key value violates unique constraint "x_key"`)})
	var p *httpx.Problem
	if !errors.As(err, &p) || p.Status != http.StatusConflict || p.Code != httpx.CodeConflict || strings.Contains(p.Detail, "x_key") {
		t.Fatalf("problem %+v", p)
	}
	if !errors.Is(p.Err, data.ErrConflict) || !strings.Contains(p.Err.Error(), "x_key") {
		t.Fatalf("cause %v", p.Err)
	}
	if errors.As(data.ErrUnknownDatabase, &p) {
		t.Fatal("ErrUnknownDatabase is a programming error, not a problem")
	}
}
