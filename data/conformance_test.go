package data_test

import (
	"testing"

	"github.com/apexgo/apex/data/datatest"
)

func TestConformanceSQLite(t *testing.T) {
	t.Parallel()
	datatest.Run(t, datatest.Features{
		SleepSQL: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
	}, datatest.SQLite)
}

func TestConformancePostgres(t *testing.T) {
	t.Parallel()
	datatest.Run(t, datatest.Features{Deadlocks: true, SleepSQL: "SELECT pg_sleep(10)"}, datatest.Postgres)
}

func TestConformanceMySQL(t *testing.T) {
	t.Parallel()
	datatest.Run(t, datatest.Features{Deadlocks: true, SleepSQL: "SELECT SLEEP(10)"}, datatest.MySQL)
}
