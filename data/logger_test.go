package data_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/data/datatest"
)

// Bound values never reach the logs, on every path gorm logs through:
// slow and failed statements, Raw(...).Scan (which gorm runs under its own
// recording logger), Rows, Exec, First. Each statement binds a secret; no
// log line may contain it, and the slow and failed ones must be logged.
func TestLogsNoBoundValues(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		dsn   func(t testing.TB) string
		sleep string // a slow statement binding one value
		fail  string // a failing statement binding one value
	}{
		"Postgres": {datatest.PostgresDSN, "SELECT pg_sleep(0.1)::text || ?", "SELECT ?::int"},
		"MySQL":    {datatest.MySQLDSN, "SELECT CONCAT(SLEEP(0.1), ?)", "SELECT * FROM no_such_table WHERE x = ?"},
		"SQLite": {datatest.SQLiteDSN,
			"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) SELECT count(*) || ? FROM c",
			"SELECT * FROM no_such_table WHERE x = ?"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			core, logs := observer.New(zapcore.DebugLevel)
			db, err := data.Open(data.DBConfig{DSN: app.NewSecret(tc.dsn(t)), Pool: data.DefaultConfig().Pool},
				data.OpenParams{Log: zap.New(core), SlowQueryThreshold: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			sqlDB, _ := db.DB()
			defer sqlDB.Close()
			ctx := context.Background()
			if err := data.Ping(ctx, db, 0, "test"); err != nil {
				t.Fatal(err)
			}
			var s string
			var n int
			_ = db.Raw(tc.sleep, "topsecret-scan").Scan(&s).Error
			if err := db.Raw(tc.fail, "castsecret-scan").Scan(&n).Error; err == nil {
				t.Fatal("the failing statement did not fail")
			}
			if rows, err := db.Raw(tc.sleep, "topsecret-rows").Rows(); err == nil {
				_ = rows.Close()
			}
			_ = db.Raw(tc.fail, "castsecret-row").Row().Scan(&n)
			_ = db.Exec(tc.fail, "castsecret-exec").Error
			_ = db.Exec(tc.sleep, "topsecret-exec").Error
			// A unique violation: MySQL's message quotes the value.
			if err := db.Exec("CREATE TABLE dup_t (x VARCHAR(50) UNIQUE)").Error; err != nil {
				t.Fatal(err)
			}
			_ = db.Exec("INSERT INTO dup_t (x) VALUES (?)", "dupsecret-exec").Error
			if err := db.Exec("INSERT INTO dup_t (x) VALUES (?)", "dupsecret-exec").Error; !errors.Is(err, data.ErrConflict) {
				t.Fatalf("duplicate: %v", err)
			}
			var slow, failed int
			for _, e := range logs.All() {
				line := e.Message
				for k, v := range e.ContextMap() {
					line += " " + k + "=" + toString(v)
				}
				if strings.Contains(line, "secret-") {
					t.Errorf("a bound value reached the log: %s", line)
				}
				if e.Message == "slow query" {
					slow++
				}
				if e.Message == "query failed" {
					failed++
				}
			}
			if slow < 3 || failed < 3 {
				t.Errorf("%d slow and %d failed statements logged, want at least 3 of each: %v", slow, failed, logs.All())
			}
		})
	}
}

func toString(v any) string { return fmt.Sprint(v) }
