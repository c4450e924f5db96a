package data_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/internal/testservice"
)

// floodSetup is one way of placing tenants: the primary's DSN, the
// tenancy settings, and the real tenants created.
type floodSetup struct {
	primary string
	tenancy map[string]any
}

// A flood of 500 distinct made-up tenant IDs while 5 real tenants are
// busy (max_open 5): the real tenants keep their pools (no eviction, no
// failed request), and the unknown IDs cost no connection when the
// primary server's catalog can tell (catalog_ttl on), or at most
// max_opening connection attempts at once, each counted, when it cannot.
func TestTenantFloodOfUnknownIDs(t *testing.T) {
	t.Parallel()
	const real = 5
	setups := map[string]func(t *testing.T) floodSetup{
		"PostgresDatabases": func(t *testing.T) floodSetup {
			prefix := testservice.Unique("fd")
			for i := range real {
				datatest.PostgresDatabase(t, fmt.Sprintf("%s_r%d", prefix, i))
			}
			base := testservice.Need(t, testservice.Postgres)
			tmpl := strings.Replace(datatest.PostgresWithDatabase(base, "TENANTDB"), "TENANTDB", prefix+"_{tenant}", 1)
			return floodSetup{primary: base, tenancy: map[string]any{"dsn_template": tmpl}}
		},
		"PostgresSchemas": func(t *testing.T) floodSetup {
			prefix := testservice.Unique("fs")
			var base string
			for i := range real {
				base = datatest.PostgresSchema(t, fmt.Sprintf("%s_r%d", prefix, i))
			}
			return floodSetup{primary: base, tenancy: map[string]any{"schema_template": prefix + "_{tenant}"}}
		},
		"MariaDBDatabases": func(t *testing.T) floodSetup {
			prefix := testservice.Unique("fm")
			for i := range real {
				datatest.MySQLDatabase(t, fmt.Sprintf("%s_r%d", prefix, i))
			}
			base := testservice.Need(t, testservice.MySQL)
			tmpl := strings.Replace(datatest.MySQLWithDatabase(base, "TENANTDB"), "TENANTDB", prefix+"_{tenant}", 1)
			return floodSetup{primary: base, tenancy: map[string]any{"dsn_template": tmpl}}
		},
	}
	for name, setup := range setups {
		for _, catalog := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/catalog=%v", name, catalog), func(t *testing.T) {
				t.Parallel()
				floodUnknownIDs(t, setup(t), catalog)
			})
		}
	}
}

func floodUnknownIDs(t *testing.T, s floodSetup, catalog bool) {
	const real, unknown, maxOpening = 5, 500, 3
	cfg := data.DefaultConfig()
	cfg.DSN = app.NewSecret(s.primary)
	cfg.Tenancy.Enabled, cfg.Tenancy.MaxOpen, cfg.Tenancy.MaxOpening = true, real, maxOpening
	// Small pools: the servers are shared with other tests.
	cfg.Pool.MaxOpen, cfg.Tenancy.Pool.MaxOpen, cfg.Tenancy.Pool.MaxIdle = 2, 1, 1
	if v, ok := s.tenancy["dsn_template"]; ok {
		cfg.Tenancy.DSNTemplate = app.NewSecret(v.(string))
	}
	if v, ok := s.tenancy["schema_template"]; ok {
		cfg.Tenancy.SchemaTemplate = v.(string)
	}
	if !catalog {
		cfg.Tenancy.CatalogTTL = 0
	}
	d, err := data.New(cfg, data.Params{})
	if err != nil {
		t.Fatal(err)
	}
	start, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.Start(start); err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	// The real tenants' pools open, then stay busy, each request pinning
	// its tenant as the middleware does, within a generous request
	// deadline (the machine may be loaded).
	use := func(id string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tctx := app.WithTenant(ctx, id)
		release, err := d.Pin(tctx)
		if err != nil {
			return err
		}
		defer release()
		db, err := d.DB(tctx)
		if err != nil {
			return err
		}
		return db.Exec("SELECT 1").Error
	}
	for i := range real {
		if err := use(fmt.Sprintf("r%d", i)); err != nil {
			t.Fatalf("real tenant r%d: %v", i, err)
		}
	}
	before := d.TenantStats()
	stop := make(chan struct{})
	var busy sync.WaitGroup
	var served, failed atomic.Int64
	for i := range real {
		busy.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := use(fmt.Sprintf("r%d", i)); err != nil {
					if failed.Add(1) < 5 {
						t.Errorf("real tenant r%d during the flood: %v", i, err)
					}
				} else {
					served.Add(1)
				}
			}
		})
	}

	var flood sync.WaitGroup
	ids := make(chan string)
	var wrong atomic.Int64
	for range 50 {
		flood.Go(func() {
			for id := range ids {
				if err := use(id); !errors.Is(err, data.ErrUnknownTenant) {
					if wrong.Add(1) < 5 {
						t.Errorf("made-up tenant %s: %v, want ErrUnknownTenant", id, err)
					}
				}
			}
		})
	}
	for i := range unknown {
		ids <- fmt.Sprintf("ghost%04d", i)
	}
	close(ids)
	flood.Wait()
	close(stop)
	busy.Wait()

	st := d.TenantStats()
	t.Logf("stats %+v; real requests served %d; at most %d connects at once", st, served.Load(), data.ConnectingPeak(d))
	if st.Evictions != 0 || st.Open != real || st.Opens != real {
		t.Errorf("real tenants lost their pools: %+v", st)
	}
	if failed.Load() != 0 || served.Load() == 0 {
		t.Errorf("real tenants: %d requests failed, %d served", failed.Load(), served.Load())
	}
	connects := st.Connects - before.Connects
	if catalog {
		if connects != 0 {
			t.Errorf("%d connection attempts for unknown IDs; the catalog should have answered", connects)
		}
		if st.CatalogReads == 0 || st.CatalogReads > 100 {
			t.Errorf("%d catalog reads for %d unknown IDs", st.CatalogReads, unknown)
		}
	} else {
		if connects > unknown {
			t.Errorf("%d connection attempts for %d unknown IDs", connects, unknown)
		}
		if peak := data.ConnectingPeak(d); peak > maxOpening {
			t.Errorf("%d connects at once, max_opening is %d", peak, maxOpening)
		}
	}
	if _, peak := data.LivePools(d); peak > real+maxOpening {
		t.Errorf("%d pools existed at once", peak)
	}
}
