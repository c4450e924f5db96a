package data_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"
	"go.uber.org/zap/zapcore"
	"gorm.io/gorm"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/internal/testservice"
)

// countingResolver counts Resolve calls.
type countingResolver struct {
	calls atomic.Int64
	next  data.TenantResolver
}

func (r *countingResolver) Resolve(ctx context.Context, id string) (data.TenantDB, error) {
	r.calls.Add(1)
	return r.next.Resolve(ctx, id)
}

func sqliteTenants(dir string, known ...string) data.TenantResolver {
	return data.ResolverFunc(func(_ context.Context, id string) (data.TenantDB, error) {
		if id == "broken" {
			return data.TenantDB{}, errors.New("control database down")
		}
		for _, k := range known {
			if k == id {
				return data.TenantDB{DSN: app.NewSecret("sqlite:" + filepath.Join(dir, id+".db"))}, nil
			}
		}
		return data.TenantDB{}, data.ErrUnknownTenant
	})
}

func TestTenancyMiddleware(t *testing.T) {
	t.Parallel()
	res := &countingResolver{next: sqliteTenants(t.TempDir(), "acme", "globex")}
	var reg data.Registry
	a := apptest.New(t, apex.Modules,
		apptest.Config(map[string]any{"data.tenancy.enabled": true, "data.tenancy.skip_paths": []string{"/public/"}}),
		apptest.With(
			fx.Provide(func() data.TenantResolver { return res }),
			fx.Populate(&reg),
			fx.Invoke(func(e *echo.Echo) {
				e.GET("/whoami", func(c echo.Context) error {
					ctx := c.Request().Context()
					db, err := reg.DB(ctx)
					if err != nil {
						return err
					}
					var one int
					if err := db.Raw("SELECT 1").Scan(&one).Error; err != nil {
						return err
					}
					id, _ := app.Tenant(ctx)
					return c.String(http.StatusOK, id)
				})
				e.GET("/public/info", func(c echo.Context) error {
					_, has := app.Tenant(c.Request().Context())
					return c.String(http.StatusOK, fmt.Sprint(has))
				})
				// A route without a tenant that still asks for the tenant's
				// database, and one reached after the registry stopped.
				e.GET("/public/db", func(c echo.Context) error {
					_, err := reg.DB(c.Request().Context())
					return err
				})
				e.GET("/public/closed", func(c echo.Context) error {
					return fmt.Errorf("orders: %w", data.ErrClosed)
				})
			}),
		))

	hostile := []string{"", strings.Repeat("a", 10<<10), "../../etc/passwd", "acme/../globex", "' OR 1=1 --", `acme"; DROP TABLE x`,
		"ténant", "租户", "-acme", "_acme", "a.b", "a%2Fb", "acme\u200b", strings.Repeat("b", 64)}
	for _, h := range hostile {
		r := a.Do(t, http.MethodGet, "/whoami", "", "X-Tenant-ID", h)
		if r.StatusCode != http.StatusBadRequest || r.Header.Get("Content-Type") != httpx.ProblemContentType {
			t.Errorf("header %.40q: %d %s, want a 400 problem", h, r.StatusCode, r.Body)
		}
	}
	code := func(r apptest.Response) string {
		var p httpx.Problem
		r.JSON(t, &p)
		return p.Code
	}
	if r := a.Do(t, http.MethodGet, "/whoami", ""); r.StatusCode != http.StatusBadRequest || code(r) != data.CodeTenantRequired {
		t.Errorf("no header: %d %s", r.StatusCode, r.Body)
	}
	if r := a.Do(t, http.MethodGet, "/whoami", "", "X-Tenant-ID", "a.b"); code(r) != data.CodeTenantInvalid {
		t.Errorf("invalid ID: %s", r.Body)
	}
	if n := res.calls.Load(); n != 0 {
		t.Fatalf("bad tenant IDs reached the resolver %d times", n)
	}

	for id, want := range map[string]int{"acme": 200, "globex": 200, "initech": 404, "broken": 503} {
		r := a.Do(t, http.MethodGet, "/whoami", "", "X-Tenant-ID", id)
		if r.StatusCode != want {
			t.Errorf("%s: %d %s, want %d", id, r.StatusCode, r.Body, want)
		}
		if wantCode := map[int]string{404: httpx.CodeTenantUnknown, 503: httpx.CodeUnavailable}[want]; wantCode != "" && code(r) != wantCode {
			t.Errorf("%s: %s, want code %s", id, r.Body, wantCode)
		}
		if want == 200 && string(r.Body) != id {
			t.Errorf("%s: body %s", id, r.Body)
		}
		if want == 503 && r.Header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
	}
	// A tenant whose resolver keeps failing logs one ERROR, not one per
	// request.
	for range 5 {
		a.Do(t, http.MethodGet, "/whoami", "", "X-Tenant-ID", "broken")
	}
	if n := a.Logs.FilterLevelExact(zapcore.ErrorLevel).Len(); n != 1 {
		t.Errorf("%d ERROR lines for 6 requests to a tenant whose resolver fails, want 1: %v", n, a.LogLines())
	}
	// Opted-out routes need no tenant.
	for _, path := range []string{"/livez", "/readyz", "/metrics", "/public/info"} {
		if r := a.Do(t, http.MethodGet, path, ""); r.StatusCode != http.StatusOK {
			t.Errorf("%s without tenant: %d %s", path, r.StatusCode, r.Body)
		}
	}
	for path, want := range map[string]int{"/public/db": http.StatusBadRequest, "/public/closed": http.StatusServiceUnavailable} {
		if r := a.Do(t, http.MethodGet, path, ""); r.StatusCode != want || r.Header.Get("Content-Type") != httpx.ProblemContentType {
			t.Errorf("%s: %d %s, want a %d problem", path, r.StatusCode, r.Body, want)
		}
	}
	// Registry.DB outside a request needs a tenant in the context.
	if _, err := reg.DB(context.Background()); !errors.Is(err, data.ErrNoTenant) {
		t.Errorf("DB without tenant: %v", err)
	}
	// An unknown tenant asked again is answered from the cache.
	calls := res.calls.Load()
	if r := a.Do(t, http.MethodGet, "/whoami", "", "X-Tenant-ID", "initech"); r.StatusCode != http.StatusNotFound || res.calls.Load() != calls {
		t.Errorf("initech again: %d, %d more resolves", r.StatusCode, res.calls.Load()-calls)
	}
	m := a.Do(t, http.MethodGet, "/metrics", "")
	for _, want := range []string{"apex_data_tenant_pools_open 2", "apex_data_tenant_opens_total 2", "apex_data_tenant_resolve_failures_total 6",
		"apex_data_tenant_unknown_total 1", "apex_data_tenant_unknown_cache_hits_total 1"} {
		if !strings.Contains(string(m.Body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func newTenancy(t testing.TB, res data.TenantResolver, maxOpen int, idle time.Duration) *data.Databases {
	t.Helper()
	cfg := data.DefaultConfig()
	cfg.SQLitePath = filepath.Join(t.TempDir(), "primary.db")
	cfg.Tenancy.Enabled, cfg.Tenancy.MaxOpen, cfg.Tenancy.IdleTTL = true, maxOpen, idle
	d, err := data.New(cfg, data.Params{Resolver: res})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// Concurrent first requests for a tenant share one resolve and one pool.
func TestTenantSingleflight(t *testing.T) {
	t.Parallel()
	slow := data.ResolverFunc(func(ctx context.Context, id string) (data.TenantDB, error) {
		time.Sleep(100 * time.Millisecond)
		return sqliteTenants(t.TempDir(), id).Resolve(ctx, id)
	})
	res := &countingResolver{next: slow}
	d := newTenancy(t, res, 10, time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			db, err := d.DB(app.WithTenant(context.Background(), "acme"))
			if err == nil {
				err = db.Exec("SELECT 1").Error
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := d.TenantStats(); res.calls.Load() != 1 || st.Opens != 1 || st.Open != 1 {
		t.Fatalf("resolver calls %d, stats %+v; want one of each", res.calls.Load(), st)
	}
}

// At most max_open pools stay open, the least recently used closed first,
// never a pinned one. No idle_ttl can interfere: it is an hour.
func TestTenantEviction(t *testing.T) {
	t.Parallel()
	d := newTenancy(t, sqliteTenants(t.TempDir(), "a", "b", "c"), 2, time.Hour)
	use := func(id string) {
		t.Helper()
		db, err := d.DB(app.WithTenant(context.Background(), id))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Exec("CREATE TABLE IF NOT EXISTS t (x int)").Error; err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // distinct last-use times
	}
	use("a")
	use("b")
	use("a") // b is now the least recently used
	use("c")
	if st := d.TenantStats(); st.Open != 2 || st.Evictions != 1 || st.Opens != 3 {
		t.Fatalf("after c: %+v", st)
	}
	use("a") // still open: no new pool
	if st := d.TenantStats(); st.Opens != 3 {
		t.Fatalf("a was evicted instead of b: %+v", st)
	}
	// A pinned pool is never evicted, even when least recently used.
	release, err := d.Pin(app.WithTenant(context.Background(), "a"))
	if err != nil {
		t.Fatal(err)
	}
	use("c")
	use("b") // evicts a if pins were ignored, c otherwise
	use("a")
	if st := d.TenantStats(); st.Opens != 4 {
		t.Fatalf("pinned a was evicted: %+v", st)
	}
	release()
	// A pool takes its place once open: while it is being opened, one
	// more than max_open exists.
	if _, peak := data.LivePools(d); peak > 3 {
		t.Errorf("%d pools existed at once, max_open is 2 and one open ran at a time", peak)
	}
}

// Pools unused for idle_ttl are closed in the background; a pinned one
// is not.
func TestTenantIdle(t *testing.T) {
	t.Parallel()
	d := newTenancy(t, sqliteTenants(t.TempDir(), "a", "b"), 10, 50*time.Millisecond)
	release, err := d.Pin(app.WithTenant(context.Background(), "a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.DB(app.WithTenant(context.Background(), "b")); err != nil {
		t.Fatal(err)
	}
	waitOpen := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for d.TenantStats().Open != want {
			if time.Now().After(deadline) {
				t.Fatalf("open pools %+v, want %d", d.TenantStats(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitOpen(1) // b closed, pinned a kept
	time.Sleep(200 * time.Millisecond)
	if st := d.TenantStats(); st.Open != 1 || st.Opens != 2 {
		t.Fatalf("pinned a closed while idle: %+v", st)
	}
	release()
	waitOpen(0)
}

// 60 tenants on Postgres, 10 pools at most, many goroutines: every
// request sees its own tenant's data, never more than 10 pools are open,
// one resolve per open, and no connection is left after stop.
func TestTenancyPostgresManyTenants(t *testing.T) {
	t.Parallel()
	base := testservice.Need(t, testservice.Postgres)
	prefix := testservice.Unique("tn")
	appName := prefix + "_app"
	const tenants = 60
	ids := make([]string, tenants)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for i := range ids {
		ids[i] = fmt.Sprintf("%s_%02d", prefix, i)
		datatest.PostgresSchema(t, ids[i])
		if _, err := admin.Exec(fmt.Sprintf(`CREATE TABLE %q.notes (owner text); INSERT INTO %q.notes VALUES ('%s')`, ids[i], ids[i], ids[i])); err != nil {
			t.Fatal(err)
		}
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	template := base + sep + "search_path={tenant}&application_name=" + appName

	res := &countingResolver{}
	var d *data.Databases
	a := apptest.New(t, apex.Modules,
		apptest.Config(map[string]any{
			"data.tenancy.enabled": true, "data.tenancy.max_open": 10, "data.tenancy.dsn_template": template,
			"data.tenancy.pool.max_open": 3,
		}),
		apptest.With(
			fx.Provide(func(cfg data.Config) data.TenantResolver { res.next = data.ConfigResolver(cfg); return res }),
			fx.Populate(&d),
			fx.Invoke(func(e *echo.Echo, reg data.Registry) {
				e.GET("/owner", func(c echo.Context) error {
					db, err := reg.DB(c.Request().Context())
					if err != nil {
						return err
					}
					var owner string
					if err := db.Raw("SELECT owner FROM notes").Scan(&owner).Error; err != nil {
						return err
					}
					return c.String(http.StatusOK, owner)
				})
			}),
		))

	var wg sync.WaitGroup
	var bad atomic.Int64
	for range 24 {
		wg.Go(func() {
			for range 40 {
				id := ids[rand.IntN(tenants)]
				r := a.Do(t, http.MethodGet, "/owner", "", "X-Tenant-ID", id)
				if r.StatusCode != http.StatusOK || string(r.Body) != id {
					if bad.Add(1) < 5 {
						t.Errorf("tenant %s: %d %s", id, r.StatusCode, r.Body)
					}
				}
			}
		})
	}
	wg.Wait()
	st := d.TenantStats()
	// Every database/sql pool counts, those being opened or closed too.
	if _, peak := data.LivePools(d); peak > 10+data.DefaultTenantMaxOpening || st.Open > 10 {
		t.Errorf("%d pools existed at once (%d open now), max_open is 10 and max_opening %d", peak, st.Open, data.DefaultTenantMaxOpening)
	}
	if st.Resolves != st.Opens || res.calls.Load() != st.Opens {
		t.Errorf("resolver calls %d, stats %+v: want one resolve per open", res.calls.Load(), st)
	}
	if st.Evictions == 0 {
		t.Errorf("no eviction with 60 tenants and 10 pools: %+v", st)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		if err := admin.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", appName).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections left after stop", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type item struct {
	ID   uint `gorm:"primaryKey"`
	Name string
}

// Schema per tenant: tenants share the primary's pool, each in its own
// schema, migrated on first open.
func TestTenancyPostgresSchemas(t *testing.T) {
	t.Parallel()
	u := testservice.Unique("s")
	for _, id := range []string{"a", "b"} {
		datatest.PostgresSchema(t, u+"_"+id)
	}
	var reg data.Registry
	apptest.New(t, apex.Modules,
		apptest.Config(map[string]any{
			"data.dsn": datatest.PostgresDSN(t), "data.tenancy.enabled": true,
			"data.tenancy.schema_template": u + "_{tenant}", "data.tenancy.migrate_on_open": true,
		}),
		apptest.With(fx.Supply(data.Migrations{FS: tenantMigrations}), fx.Populate(&reg)),
	)
	for _, id := range []string{"a", "b"} {
		db, err := reg.DB(app.WithTenant(context.Background(), id))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Create(&item{ID: 1, Name: "from " + id}).Error; err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a", "b"} {
		db, _ := reg.DB(app.WithTenant(context.Background(), id))
		var items []item
		if err := db.Find(&items).Error; err != nil {
			t.Fatal(err)
		}
		if len(items) != 1 || items[0].Name != "from "+id {
			t.Fatalf("tenant %s sees %+v", id, items)
		}
	}
	if _, err := reg.DB(app.WithTenant(context.Background(), "nope")); !errors.Is(err, data.ErrUnknownTenant) {
		t.Fatalf("missing schema: %v", err)
	}
}

// widget names its table itself, as the repository example's model does.
type widget struct {
	ID   uint `gorm:"primaryKey"`
	Name string
}

func (widget) TableName() string { return "widgets" }

// Schema per tenant holds for every kind of statement — models with
// TableName, db.Table, raw SQL — not only for gorm's derived table names:
// a tenant's connections have its schema as their search_path. Each
// tenant's pool is sized by data.tenancy.pool, not by the primary's.
func TestTenancyPostgresSchemasEveryStatement(t *testing.T) {
	t.Parallel()
	u := testservice.Unique("w")
	for _, id := range []string{"a", "b"} {
		datatest.PostgresSchema(t, u+"_"+id)
	}
	var reg data.Registry
	apptest.New(t, apex.Modules,
		apptest.Config(map[string]any{
			"data.dsn": datatest.PostgresDSN(t), "data.tenancy.enabled": true,
			"data.tenancy.schema_template": u + "_{tenant}", "data.tenancy.migrate_on_open": true,
			"data.tenancy.pool.max_open": 3,
		}),
		apptest.With(fx.Supply(data.Migrations{FS: widgetMigrations}), fx.Populate(&reg)),
	)
	ctxA, ctxB := app.WithTenant(context.Background(), "a"), app.WithTenant(context.Background(), "b")
	dbA, err := reg.DB(ctxA)
	if err != nil {
		t.Fatal(err)
	}
	if err := dbA.Create(&widget{ID: 1, Name: "model"}).Error; err != nil {
		t.Fatal(err)
	}
	if err := dbA.Table("widgets").Create(map[string]any{"id": 2, "name": "table"}).Error; err != nil {
		t.Fatal(err)
	}
	if err := dbA.Exec("INSERT INTO widgets (id, name) VALUES (3, 'raw')").Error; err != nil {
		t.Fatal(err)
	}
	count := func(ctx context.Context) (model, table, raw int64) {
		t.Helper()
		db, err := reg.DB(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Model(&widget{}).Count(&model).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Table("widgets").Count(&table).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Raw("SELECT count(*) FROM widgets").Scan(&raw).Error; err != nil {
			t.Fatal(err)
		}
		return model, table, raw
	}
	if m, tb, r := count(ctxA); m != 3 || tb != 3 || r != 3 {
		t.Errorf("tenant a sees %d/%d/%d widgets (model/table/raw), want 3", m, tb, r)
	}
	if m, tb, r := count(ctxB); m != 0 || tb != 0 || r != 0 {
		t.Errorf("tenant b sees %d/%d/%d of tenant a's widgets (model/table/raw)", m, tb, r)
	}
	if sqlDB, _ := dbA.DB(); sqlDB.Stats().MaxOpenConnections != 3 {
		t.Errorf("tenant pool max open %d, want data.tenancy.pool.max_open 3", sqlDB.Stats().MaxOpenConnections)
	}
	// Nothing landed in the primary's schema.
	var n int64
	if err := reg.Primary().Raw("SELECT count(*) FROM information_schema.tables WHERE table_name = 'widgets' AND table_schema = current_schema()").Scan(&n).Error; err != nil || n != 0 {
		t.Errorf("widgets in the primary's schema: %d, %v", n, err)
	}
}

// Schema names keep their case: tenant ACME's migrations and statements
// go to "<prefix>_ACME", never to a folded "<prefix>_acme" (which may be
// another tenant's).
func TestTenancyPostgresSchemaCase(t *testing.T) {
	t.Parallel()
	u := testservice.Unique("c")
	for _, id := range []string{"ACME", "acme"} {
		datatest.PostgresSchema(t, u+"_"+id)
	}
	d := newPostgresSchemaTenancy(t, u+"_{tenant}", nil)
	ctx := app.WithTenant(context.Background(), "ACME")
	db, err := d.DB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Create(&widget{ID: 1, Name: "upper"}).Error; err != nil {
		t.Fatal(err)
	}
	var where []string
	if err := d.Primary().Raw("SELECT table_schema FROM information_schema.tables WHERE table_name IN ('widgets', 'goose_db_version') AND table_schema LIKE ? ORDER BY 1", u+"%").Scan(&where).Error; err != nil {
		t.Fatal(err)
	}
	if want := []string{u + "_ACME", u + "_ACME"}; fmt.Sprint(where) != fmt.Sprint(want) {
		t.Fatalf("tables in schemas %v, want %v", where, want)
	}
}

// newPostgresSchemaTenancy is a registry with a schema per tenant on a
// fresh Postgres schema as primary, migrated on open with the widgets.
func newPostgresSchemaTenancy(t *testing.T, template string, edit func(*data.Config)) *data.Databases {
	t.Helper()
	cfg := data.DefaultConfig()
	cfg.DSN = app.NewSecret(datatest.PostgresDSN(t))
	cfg.Tenancy.Enabled, cfg.Tenancy.SchemaTemplate, cfg.Tenancy.MigrateOnOpen = true, template, true
	if edit != nil {
		edit(&cfg)
	}
	d, err := data.New(cfg, data.Params{Migrations: widgetMigrations})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

var widgetMigrations = fstest.MapFS{
	"00001_widgets.sql": {Data: []byte("-- +goose Up\nCREATE TABLE widgets (id INTEGER PRIMARY KEY, name VARCHAR(100));\n-- +goose Down\nDROP TABLE widgets;\n")},
}

var tenantMigrations = fstest.MapFS{
	"00001_items.sql": {Data: []byte("-- +goose Up\nCREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(100));\n-- +goose Down\nDROP TABLE items;\n")},
}

// Database per tenant on MariaDB, migrated on first open; a tenant whose
// database does not exist is unknown (404), not a failure.
func TestTenancyMySQLDatabases(t *testing.T) {
	t.Parallel()
	a1, b1 := datatest.MySQLDSN(t), datatest.MySQLDSN(t)
	var reg data.Registry
	apptest.New(t, apex.Modules,
		apptest.Config(map[string]any{
			"data.tenancy.enabled": true, "data.tenancy.migrate_on_open": true,
			"data.tenancy.tenants.a.dsn": a1, "data.tenancy.tenants.b.dsn": b1,
			"data.tenancy.tenants.gone.dsn": datatest.MySQLWithDatabase(testservice.Need(t, testservice.MySQL), testservice.Unique("missing")),
		}),
		apptest.With(fx.Supply(data.Migrations{FS: tenantMigrations}), fx.Populate(&reg)),
	)
	for _, id := range []string{"a", "b"} {
		db, err := reg.DB(app.WithTenant(context.Background(), id))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Create(&item{ID: 1, Name: id}).Error; err != nil {
			t.Fatal(err)
		}
		var n int64
		db.Model(&item{}).Count(&n)
		if n != 1 {
			t.Fatalf("tenant %s has %d items", id, n)
		}
	}
	if _, err := reg.DB(app.WithTenant(context.Background(), "gone")); !errors.Is(err, data.ErrUnknownTenant) {
		t.Fatalf("missing database: %v", err)
	}
}

// InTx on a tenant's context runs on that tenant's database, and the
// repository code inside joins it.
func TestTenantTransactions(t *testing.T) {
	t.Parallel()
	d := newTenancy(t, sqliteTenants(t.TempDir(), "a", "b"), 10, time.Hour)
	var reg data.Registry = d
	ctxA := app.WithTenant(context.Background(), "a")
	ctxB := app.WithTenant(context.Background(), "b")
	for _, ctx := range []context.Context{ctxA, ctxB} {
		db, _ := reg.DB(ctx)
		if err := db.AutoMigrate(&item{}); err != nil {
			t.Fatal(err)
		}
	}
	insert := func(ctx context.Context, name string) error {
		db, err := reg.DB(ctx)
		if err != nil {
			return err
		}
		return db.Create(&item{Name: name}).Error
	}
	boom := errors.New("boom")
	if err := data.InTx(ctxA, reg, func(ctx context.Context) error {
		if err := insert(ctx, "kept"); err != nil {
			return err
		}
		return data.InTx(ctx, reg, func(ctx context.Context) error {
			_ = insert(ctx, "dropped")
			return boom
		})
	}); !errors.Is(err, boom) {
		t.Fatalf("InTx: %v", err)
	}
	if err := data.InTx(ctxA, reg, func(ctx context.Context) error { return insert(ctx, "committed") }); err != nil {
		t.Fatal(err)
	}
	count := func(ctx context.Context) int64 {
		db, _ := reg.DB(ctx)
		var n int64
		db.Model(&item{}).Count(&n)
		return n
	}
	if a, b := count(ctxA), count(ctxB); a != 1 || b != 0 {
		t.Fatalf("tenant a has %d items (want 1), b has %d (want 0)", a, b)
	}
}

// Postgres cuts database and schema names at 63 bytes, so templates must
// leave room for tenant IDs, and IDs longer than the room are invalid
// (400) instead of sharing a truncated name with another tenant.
func TestTenantIDLengthFitsTemplates(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("p", 56)
	problems := func(edit func(*data.TenancyConfig)) string {
		cfg := data.DefaultConfig()
		edit(&cfg.Tenancy)
		return fmt.Sprint(cfg.Validate())
	}
	for name, c := range map[string]struct {
		edit func(*data.TenancyConfig)
		key  string // "" for none
	}{
		"schema ok":       {func(t *data.TenancyConfig) { t.SchemaTemplate = "tenant_{tenant}" }, ""},
		"schema too long": {func(t *data.TenancyConfig) { t.SchemaTemplate = long + "_{tenant}" }, "tenancy.schema_template"},
		"database ok":     {func(t *data.TenancyConfig) { t.DSNTemplate = app.NewSecret("postgres://u@h/tenant_{tenant}") }, ""},
		"database too long": {func(t *data.TenancyConfig) {
			t.DSNTemplate = app.NewSecret("postgres://u@h/" + long + "_{tenant}?sslmode=disable")
		}, "tenancy.dsn_template"},
		"search_path too long": {func(t *data.TenancyConfig) {
			t.DSNTemplate = app.NewSecret("postgres://u@h/db?search_path=" + long + "{tenant}")
		}, "tenancy.dsn_template"},
		"listed schema too long": {func(t *data.TenancyConfig) {
			t.Tenants = map[string]data.TenantConfig{"a": {Schema: strings.Repeat("s", 64)}}
		}, "tenancy.tenants.a.schema"},
	} {
		got := problems(c.edit)
		if (c.key == "") != (got == "[]") || !strings.Contains(got, c.key) {
			t.Errorf("%s: problems %s, want one for %q", name, got, c.key)
		}
	}

	// "tenant_{tenant}" leaves 56 bytes: a 57-byte ID never reaches the
	// resolver; a listed tenant may be longer.
	listed := strings.Repeat("l", 63)
	cfg := data.DefaultConfig()
	cfg.SQLitePath = filepath.Join(t.TempDir(), "primary.db")
	cfg.Tenancy.Enabled, cfg.Tenancy.SchemaTemplate = true, "tenant_{tenant}"
	cfg.Tenancy.Tenants = map[string]data.TenantConfig{listed: {DSN: app.NewSecret(datatest.SQLiteDSN(t))}}
	d, err := data.New(cfg, data.Params{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, id := range []string{strings.Repeat("x", 56) + "a", strings.Repeat("x", 56) + "b"} {
		if _, err := d.DB(app.WithTenant(context.Background(), id)); !errors.Is(err, data.ErrInvalidTenant) {
			t.Errorf("%d-byte ID: %v, want ErrInvalidTenant", len(id), err)
		}
	}
	if _, err := d.DB(app.WithTenant(context.Background(), listed)); err != nil {
		t.Errorf("listed 63-byte tenant: %v", err)
	}
	if st := d.TenantStats(); st.Resolves != 1 {
		t.Errorf("resolver called %d times, want once (the listed tenant)", st.Resolves)
	}
}

// A transaction belongs to the tenant it was begun for: inside InTx on
// tenant a, a context switched to tenant b gets b's database, not a's
// transaction.
func TestTenantTransactionStaysWithItsTenant(t *testing.T) {
	t.Parallel()
	d := newTenancy(t, sqliteTenants(t.TempDir(), "a", "b"), 10, time.Hour)
	var reg data.Registry = d
	ctxA := app.WithTenant(context.Background(), "a")
	for _, id := range []string{"a", "b"} {
		db, err := reg.DB(app.WithTenant(context.Background(), id))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.AutoMigrate(&item{}); err != nil {
			t.Fatal(err)
		}
	}
	boom := errors.New("boom")
	err := data.InTx(ctxA, reg, func(ctx context.Context) error {
		ctxB := app.WithTenant(ctx, "b")
		if data.CurrentTx(ctxB, reg) != nil {
			t.Error("tenant b's context carries tenant a's transaction")
		}
		db, err := reg.DB(ctxB)
		if err != nil {
			return err
		}
		if err := db.Create(&item{Name: "for b"}).Error; err != nil {
			return err
		}
		if data.CurrentTx(app.WithTenant(ctxB, "a"), reg) == nil {
			t.Error("back on tenant a, its transaction is gone")
		}
		return boom // rolls back a's transaction, not b's insert
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx: %v", err)
	}
	count := func(id string) (n int64) {
		db, _ := reg.DB(app.WithTenant(context.Background(), id))
		db.Model(&item{}).Count(&n)
		return n
	}
	if a, b := count("a"), count("b"); a != 0 || b != 1 {
		t.Fatalf("tenant a has %d items (want 0), b has %d (want 1)", a, b)
	}
}

// mapRegistry is a Registry whose values cannot be compared.
type mapRegistry struct {
	dbs map[string]*gorm.DB
}

func (r mapRegistry) Primary() *gorm.DB { return r.dbs["primary"] }
func (r mapRegistry) Named(name string) (*gorm.DB, error) {
	return nil, &data.NameError{Name: name}
}
func (r mapRegistry) DB(ctx context.Context) (*gorm.DB, error) {
	if tx := data.CurrentTx(ctx, r); tx != nil {
		return tx, nil
	}
	return r.dbs["primary"].WithContext(ctx), nil
}

// A Registry that is not comparable cannot carry a transaction (nothing
// could tell it joined the right one): InTx says so, without panicking.
func TestInTxNonComparableRegistry(t *testing.T) {
	t.Parallel()
	reg := mapRegistry{dbs: map[string]*gorm.DB{"primary": datatest.Open(t, datatest.SQLiteDSN(t))}}
	called := false
	err := data.InTx(context.Background(), reg, func(ctx context.Context) error {
		called = true
		_, err := reg.DB(ctx)
		return err
	})
	if err == nil || called {
		t.Fatalf("InTx with a non-comparable registry: %v, fn called %v", err, called)
	}
}

// Close ends the tenant opens in flight (their resolver sees its context
// canceled) and returns only once they have finished.
func TestTenantCloseEndsOpensInFlight(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	var returned atomic.Bool
	blocking := data.ResolverFunc(func(ctx context.Context, id string) (data.TenantDB, error) {
		close(entered)
		defer returned.Store(true)
		<-ctx.Done()
		return data.TenantDB{}, ctx.Err()
	})
	d := newTenancy(t, blocking, 10, time.Hour)
	errc := make(chan error, 1)
	go func() {
		_, err := d.DB(app.WithTenant(context.Background(), "acme"))
		errc <- err
	}()
	<-entered
	start := time.Now()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if !returned.Load() {
		t.Fatal("Close returned while a tenant open was still in flight")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Close took %s: the open was not canceled", took)
	}
	if err := <-errc; !errors.Is(err, data.ErrClosed) {
		t.Errorf("DB during Close: %v, want ErrClosed", err)
	}
}

// Closing the registry lets a statement already running on a tenant's
// pool finish, and waits for it.
func TestTenantCloseWaitsForStatements(t *testing.T) {
	t.Parallel()
	cfg := data.DefaultConfig()
	cfg.SQLitePath = filepath.Join(t.TempDir(), "primary.db")
	cfg.Tenancy.Enabled = true
	cfg.Tenancy.Tenants = map[string]data.TenantConfig{"a": {DSN: app.NewSecret(datatest.PostgresDSN(t))}}
	d, err := data.New(cfg, data.Params{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	db, err := d.DB(app.WithTenant(context.Background(), "a"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var finished atomic.Bool
	go func() {
		err := db.Exec("SELECT pg_sleep(0.5)").Error
		finished.Store(true)
		done <- err
	}()
	sqlDB, _ := db.DB()
	for sqlDB.Stats().InUse == 0 && !finished.Load() { // until the statement runs
		time.Sleep(time.Millisecond)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// The statement's connection is back in the pool once Close returns
	// (a Close that did not wait would leave it in use), and the
	// statement ran to its end rather than being cut off.
	if inUse := sqlDB.Stats().InUse; inUse != 0 {
		t.Errorf("Close returned with %d connection(s) still running a statement", inUse)
	}
	if err := <-done; err != nil {
		t.Errorf("running statement: %v", err)
	}
}

// A schema tenant in a database other than the primary's gets a pool
// sized by data.tenancy.pool, not by data.pool.
func TestTenancySchemaPoolSize(t *testing.T) {
	t.Parallel()
	schema := testservice.Unique("z")
	base := datatest.PostgresSchema(t, schema)
	cfg := data.DefaultConfig()
	cfg.SQLitePath = filepath.Join(t.TempDir(), "primary.db")
	cfg.Pool.MaxOpen = 20
	cfg.Tenancy.Enabled, cfg.Tenancy.Pool.MaxOpen = true, 3
	cfg.Tenancy.Tenants = map[string]data.TenantConfig{"a": {DSN: app.NewSecret(base), Schema: schema}}
	d, err := data.New(cfg, data.Params{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	db, err := d.DB(app.WithTenant(context.Background(), "a"))
	if err != nil {
		t.Fatal(err)
	}
	if sqlDB, _ := db.DB(); sqlDB.Stats().MaxOpenConnections != 3 {
		t.Errorf("tenant pool max open %d, want data.tenancy.pool.max_open 3", sqlDB.Stats().MaxOpenConnections)
	}
}
