package data_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"
	"gorm.io/gorm"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/internal/testservice"
)

// withData is every apex module, data included.

type note struct {
	ID   uint `gorm:"primaryKey"`
	Body string
}

// With nothing configured the app runs on a SQLite file (under the
// test's temporary directory, courtesy of apptest) and provides the
// primary *gorm.DB, the Registry and a readiness check.
func TestModuleDefaultsToSQLite(t *testing.T) {
	t.Parallel()
	var (
		db  *gorm.DB
		reg data.Registry
	)
	a := apptest.New(t, apex.Modules, apptest.With(fx.Populate(&db, &reg)))
	if data.Driver(db) != data.SQLite || reg.Primary() != db {
		t.Fatalf("driver %s, registry primary %p, db %p", data.Driver(db), reg.Primary(), db)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(a.LogFile), "apex.db")); err != nil {
		t.Fatalf("SQLite file not under the test's directory: %v", err)
	}
	if _, err := os.Stat("var/apex.db"); err == nil {
		t.Fatal("var/apex.db created in the working directory")
	}
	if err := db.AutoMigrate(&note{}); err != nil {
		t.Fatal(err)
	}
	r := a.Do(t, http.MethodGet, "/readyz", "")
	if r.StatusCode != http.StatusOK || !strings.Contains(string(r.Body), "data.primary") {
		t.Fatalf("readyz %d %s", r.StatusCode, r.Body)
	}
	m := a.Do(t, http.MethodGet, "/metrics", "")
	for _, want := range []string{`apex_data_pool_connections{database="primary",state="idle"}`, `apex_data_pool_max_open{database="primary"} 20`} {
		if !strings.Contains(string(m.Body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// An unreachable database is a start error naming the setting, never a
// fallback to SQLite.
func TestModuleUnreachableDatabaseFailsStart(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		config  map[string]any
		setting string
	}{
		"postgres": {map[string]any{"data.dsn": "postgres://postgres@127.0.0.1:1/test?sslmode=disable"}, "data.dsn"},
		"mysql":    {map[string]any{"data.dsn": "mysql://root@127.0.0.1:1/test"}, "data.dsn"},
		"named": {map[string]any{
			"data.databases.audit.dsn": "postgres://postgres@127.0.0.1:1/audit?sslmode=disable",
		}, "data.databases.audit.dsn"},
		"sqlite directory": {map[string]any{"data.sqlite_path": "/proc/nope/apex.db"}, "data.sqlite_path"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c.config["data.pool.connect_timeout"] = "200ms"
			c.config["service.start_timeout"] = "1s"
			start := time.Now()
			_, err := apptest.Start(t, apex.Modules, apptest.Config(c.config), apptest.StartTimeout(5*time.Second))
			if err == nil {
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), c.setting) {
				t.Fatalf("error does not name %s: %v", c.setting, err)
			}
			if strings.Contains(err.Error(), "sqlite") && name != "sqlite directory" {
				t.Fatalf("fell back to SQLite? %v", err)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

// Credentials in a DSN appear in no error and no log line.
func TestModuleDSNPasswordNeverShown(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://postgres:pg-s3cret-pw@127.0.0.1:1/test?sslmode=disable",
		"mysql://root:my-s3cret-pw@127.0.0.1:1/test",
	} {
		a, err := apptest.Start(t, apex.Modules, apptest.Config(map[string]any{
			"data.dsn": dsn, "data.pool.connect_timeout": "100ms", "service.start_timeout": "500ms",
		}))
		if err == nil {
			t.Fatal("started")
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("password in the start error: %v", err)
		}
		_ = a
	}
}

// A bad DSN is a config error with the key.
func TestModuleBadConfig(t *testing.T) {
	t.Parallel()
	_, err := apptest.Start(t, apex.Modules, apptest.Config(map[string]any{
		"data.driver": "mysql", "data.dsn": "postgres://x@y/z",
		"data.databases.Bad Name.dsn": "sqlite::memory:",
		"data.tenancy.dsn_template":   "postgres://x@y/fixed",
	}))
	if err == nil {
		t.Fatal("started")
	}
	for _, want := range []string{"data.dsn", "data.databases.Bad Name", "data.tenancy.dsn_template"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
}

// Sentinel errors returned by handlers become problems.
func TestModuleErrorMapping(t *testing.T) {
	t.Parallel()
	var reg data.Registry
	a := apptest.New(t, apex.Modules, apptest.With(fx.Populate(&reg), fx.Invoke(func(e *echo.Echo) {
		e.GET("/missing", func(c echo.Context) error {
			db, err := reg.DB(c.Request().Context())
			if err != nil {
				return err
			}
			var n note
			return db.First(&n, 42).Error
		})
		e.GET("/dup", func(c echo.Context) error {
			db, _ := reg.DB(c.Request().Context())
			_ = db.Create(&note{ID: 1}).Error
			return db.Create(&note{ID: 1}).Error
		})
		e.GET("/retry", func(c echo.Context) error { return fmt.Errorf("wrapped: %w", data.ErrRetryable) })
		e.GET("/fk", func(c echo.Context) error { return data.ErrForeignKey })
	})))
	if err := reg.Primary().AutoMigrate(&note{}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/missing": 404, "/dup": 409, "/fk": 409, "/retry": 503} {
		r := a.Do(t, http.MethodGet, path, "")
		if r.StatusCode != want || r.Header.Get("Content-Type") != httpx.ProblemContentType {
			t.Errorf("%s: %d %s, want %d problem", path, r.StatusCode, r.Body, want)
		}
	}
	// Not-found is not an error worth a log line; the conflict is a WARN.
	for _, e := range a.Logs.FilterMessage("query failed").All() {
		if strings.Contains(fmt.Sprint(e.ContextMap()["error"]), "not found") {
			t.Errorf("not-found logged: %v", e.ContextMap())
		}
		if e.Level.String() == "error" {
			t.Errorf("constraint violation logged at ERROR: %v", e.ContextMap())
		}
	}
}

// Named databases open at start, each with its readiness check.
func TestModuleNamedDatabases(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var reg data.Registry
	a := apptest.New(t, apex.Modules, apptest.With(fx.Populate(&reg)), apptest.Config(map[string]any{
		"data.databases.audit.dsn":     "sqlite:" + filepath.Join(dir, "audit.db"),
		"data.databases.analytics.dsn": datatest.PostgresDSN(t),
	}))
	audit, err := reg.Named("audit")
	if err != nil || data.Driver(audit) != data.SQLite {
		t.Fatalf("audit: %v", err)
	}
	an, err := reg.Named("analytics")
	if err != nil || data.Driver(an) != data.Postgres {
		t.Fatalf("analytics: %v", err)
	}
	if err := an.Exec("CREATE TABLE t (x int)").Error; err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Named("nope"); !errors.Is(err, data.ErrUnknownDatabase) {
		t.Fatalf("unknown: %v", err)
	}
	r := a.Do(t, http.MethodGet, "/readyz", "")
	for _, want := range []string{"data.primary", "data.audit", "data.analytics"} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("readyz lacks %s: %s", want, r.Body)
		}
	}
}

var migrations = fstest.MapFS{
	"00001_notes.sql": {Data: []byte("-- +goose Up\nCREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(200));\n-- +goose Down\nDROP TABLE notes;\n")},
	"00002_seed.sql":  {Data: []byte("-- +goose Up\nINSERT INTO notes (id, body) VALUES (1, 'seeded');\n-- +goose Down\nDELETE FROM notes WHERE id = 1;\n")},
}

// data.migrate.on_start applies the supplied migrations at start.
func TestModuleMigrateOnStart(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(t testing.TB) string{
		"sqlite": datatest.SQLiteDSN, "postgres": datatest.PostgresDSN, "mysql": datatest.MySQLDSN,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var db *gorm.DB
			a := apptest.New(t, apex.Modules, apptest.With(fx.Supply(data.Migrations{FS: migrations}), fx.Populate(&db)),
				apptest.Config(map[string]any{"data.dsn": dsn(t), "data.migrate.on_start": true}))
			var body string
			if err := db.Raw("SELECT body FROM notes WHERE id = 1").Scan(&body).Error; err != nil || body != "seeded" {
				t.Fatalf("body %q, %v", body, err)
			}
			if len(a.Logs.FilterMessage("migration applied").All()) != 2 {
				t.Fatal("want two 'migration applied' lines")
			}
		})
	}
}

// Migrators started together on one database apply each migration once.
func TestConcurrentMigrators(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(t testing.TB) string{"postgres": datatest.PostgresDSN, "mysql": datatest.MySQLDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := dsn(t)
			const n = 6
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				applied int
				errs    []error
			)
			for range n {
				db := datatest.Open(t, dsn)
				wg.Go(func() {
					m, err := data.NewMigrator(db, migrations, data.MigratorParams{})
					if err == nil {
						var k int
						k, err = m.Up(context.Background())
						mu.Lock()
						applied += k
						mu.Unlock()
					}
					if err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(errs) > 0 || applied != 2 {
				t.Fatalf("applied %d (want 2), errors %v", applied, errs)
			}
		})
	}
}

// Concurrent writers on the SQLite fallback wait for each other instead of
// failing with "database is locked".
func TestSQLiteConcurrentWriters(t *testing.T) {
	t.Parallel()
	db := datatest.Open(t, datatest.SQLiteDSN(t))
	if err := db.AutoMigrate(&note{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*25*2)
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				err := data.InTx(context.Background(), data.Single(db), func(ctx context.Context) error {
					tx, _ := data.Single(db).DB(ctx)
					var n int64
					if err := tx.Model(&note{}).Count(&n).Error; err != nil {
						return err
					}
					return tx.Create(&note{Body: fmt.Sprintf("%d-%d-%d", w, i, n)}).Error
				})
				if err != nil {
					errs <- err
				}
				if err := db.Create(&note{Body: "plain"}).Error; err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("write failed: %v", err)
	}
	var n int64
	db.Model(&note{}).Count(&n)
	if n != 8*25*2 {
		t.Fatalf("%d rows", n)
	}
}

// Slow statements are logged at WARN with the SQL (placeholders only)
// and the duration.
func TestSlowQueryLog(t *testing.T) {
	t.Parallel()
	var db *gorm.DB
	a := apptest.New(t, apex.Modules, apptest.With(fx.Populate(&db)), apptest.Config(map[string]any{"data.slow_query_threshold": "1ns"}))
	if err := db.AutoMigrate(&note{}); err != nil {
		t.Fatal(err)
	}
	db.Create(&note{Body: "top-secret-value"})
	e := a.WaitForLog(t, "slow query", time.Second)
	m := e.ContextMap()
	if e.Level.String() != "warn" || m["sql"] == nil || m["duration"] == nil {
		t.Fatalf("slow query entry %v %v", e.Level, m)
	}
	for _, l := range a.LogLines() {
		if strings.Contains(l, "top-secret-value") {
			t.Fatalf("a value reached the logs: %s", l)
		}
	}
	// A failing statement is an ERROR.
	db.Exec("SELECT * FROM no_such_table")
	if e := a.WaitForLog(t, "query failed", time.Second); e.Level.String() != "error" {
		t.Fatalf("failed query at %v", e.Level)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testservice.Required() {
		// Nothing may be left in the package directory.
		if _, err := os.Stat("var"); err == nil {
			fmt.Println("data tests left var/ behind")
			code = 1
		}
	}
	os.Exit(code)
}

// With spans recorded, every statement is a span, without the values.
func TestModuleTracing(t *testing.T) {
	t.Parallel()
	var db *gorm.DB
	// apptest records spans through a span exporter of its own, which is
	// enough for the module to trace: no OTLP endpoint is needed.
	a := apptest.New(t, apex.Modules, apptest.With(fx.Populate(&db)))
	if err := db.AutoMigrate(&note{}); err != nil {
		t.Fatal(err)
	}
	db.Create(&note{Body: "span-secret"})
	var found bool
	for _, s := range a.Spans() {
		for _, kv := range s.Attributes {
			if strings.Contains(kv.Value.Emit(), "span-secret") {
				t.Fatalf("a value in span %s: %v", s.Name, kv)
			}
			if string(kv.Key) == "db.statement" && strings.Contains(kv.Value.Emit(), "INSERT INTO `notes`") {
				found = true
			}
		}
	}
	if !found {
		names := []string{}
		for _, s := range a.Spans() {
			names = append(names, s.Name)
		}
		t.Fatalf("no span for the INSERT among %v", names)
	}
}

// The module works without the HTTP server (a worker process).
func TestModuleWithoutHTTP(t *testing.T) {
	t.Parallel()
	var reg data.Registry
	a := apptest.New(t, []fx.Option{apex.Without(apex.HTTP)}, apptest.With(fx.Populate(&reg)),
		apptest.Config(map[string]any{"data.sqlite_path": filepath.Join(t.TempDir(), "worker.db"), "data.tenancy.enabled": true,
			"data.tenancy.dsn_template": "sqlite:" + filepath.Join(t.TempDir(), "{tenant}.db")}))
	if a.URL != "" {
		t.Fatal("an HTTP server runs")
	}
	db, err := reg.DB(app.WithTenant(context.Background(), "acme"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("SELECT 1").Error; err != nil {
		t.Fatal(err)
	}
}
