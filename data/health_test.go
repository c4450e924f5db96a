package data_test

import (
	"context"
	"testing"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/httpx/httpxtest"
)

// healthChecks starts a registry on dsn with a named database beside it
// and returns its readiness checks.
func healthChecks(t *testing.T, dsn string, start bool) []httpx.HealthCheck {
	t.Helper()
	cfg := data.DefaultConfig()
	cfg.DSN = app.NewSecret(dsn)
	cfg.Databases = map[string]data.DBConfig{"audit": {DSN: app.NewSecret(datatest.SQLiteDSN(t))}}
	cfg.Pool.MaxOpen = 4 // the suite's 20 concurrent checks share them
	d, err := data.New(cfg, data.Params{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if start {
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return d.HealthChecks()
}

// The ping checks of the primary and of a named database pass the
// health-check conformance suite on every driver; a check of a server
// that refuses connections fails.
func TestHealthChecksConformance(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(testing.TB) string{
		"SQLite": datatest.SQLiteDSN, "Postgres": datatest.PostgresDSN, "MySQL": datatest.MySQLDSN,
	} {
		for i, check := range []string{"primary", "named"} {
			t.Run(name+"/"+check, func(t *testing.T) {
				t.Parallel()
				httpxtest.Run(t, httpxtest.Features{Down: true}, func(t *testing.T, down bool) httpx.HealthCheck {
					if down {
						return healthChecks(t, "postgres://apex@127.0.0.1:1/down?sslmode=disable", false)[0]
					}
					return healthChecks(t, dsn(t), true)[i]
				})
			})
		}
	}
}
