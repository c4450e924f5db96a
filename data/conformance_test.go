package data_test

import (
	"testing"

	"gorm.io/gorm"

	"github.com/apexgo/apex/data/datatest"
)

func TestConformanceSQLite(t *testing.T) {
	t.Parallel()
	datatest.Run(t, datatest.Features{
		SleepSQL: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
	}, func(t *testing.T) *gorm.DB { return datatest.Open(t, datatest.SQLiteDSN(t)) })
}

func TestConformancePostgres(t *testing.T) {
	t.Parallel()
	datatest.Run(t, datatest.Features{Deadlocks: true, SleepSQL: "SELECT pg_sleep(10)"},
		func(t *testing.T) *gorm.DB { return datatest.Open(t, datatest.PostgresDSN(t)) })
}

func TestConformanceMySQL(t *testing.T) {
	t.Parallel()
	datatest.Run(t, datatest.Features{Deadlocks: true, SleepSQL: "SELECT SLEEP(10)"},
		func(t *testing.T) *gorm.DB { return datatest.Open(t, datatest.MySQLDSN(t)) })
}
