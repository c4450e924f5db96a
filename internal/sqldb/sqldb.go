// Package sqldb holds what data and the queue's outbox both need of a SQL
// database opened by data.Open: its dialect, whether an error is worth a
// retry, and the goose migration runner with its cross-process lock.
// It is written once here so that neither module imports the other.
package sqldb

import (
	"errors"

	sqlitedrv "github.com/glebarez/go-sqlite"
	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// The dialects.
const (
	Postgres = "postgres"
	MySQL    = "mysql"
	SQLite   = "sqlite"
)

// Dialect returns the dialect of db: Postgres, MySQL (MariaDB too) or
// SQLite.
func Dialect(db *gorm.DB) string {
	switch db.Dialector.Name() {
	case "postgres":
		return Postgres
	case "mysql":
		return MySQL
	default:
		return SQLite
	}
}

// Retryable reports whether err, or an error it wraps, is a driver error
// after which the whole transaction may simply be run again: a
// serialization failure, a deadlock, a lock timeout, SQLite's busy.
func Retryable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "40001", "40P01", "55P03":
			return true
		}
		return false
	}
	var my *mysqldrv.MySQLError
	if errors.As(err, &my) {
		return my.Number == 1213 || my.Number == 1205
	}
	var lite *sqlitedrv.Error
	if errors.As(err, &lite) {
		code := lite.Code() & 0xff
		return code == 5 || code == 6 // SQLITE_BUSY, SQLITE_LOCKED
	}
	return false
}
