package data

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/apexgo/apex/internal/sqldb"
	sqlitedrv "github.com/glebarez/go-sqlite"
	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// Error is a translated driver error: errors.Is matches both its sentinel
// (Kind) and the native error it wraps.
type Error struct {
	// Kind is ErrNotFound, ErrConflict, ErrForeignKey or ErrRetryable.
	Kind error
	// Err is the driver's error.
	Err error
}

// Error is the sentinel's text and the driver's; only logs see it.
func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Err.Error() }

// Unwrap returns the driver's error.
func (e *Error) Unwrap() error { return e.Err }

// Is matches Kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// As sets a **httpx.Problem target to the problem of Kind: its status,
// code and generic detail; the driver's text stays in the problem's Err,
// which is never sent.
func (e *Error) As(target any) bool {
	s, ok := e.Kind.(*sentinel)
	return ok && s.asProblem(target, e)
}

// Translate returns err translated to this package's sentinel errors when
// it is a not-found, constraint, serialization or deadlock error of
// Postgres (pgx), MySQL/MariaDB or SQLite, and err unchanged otherwise.
// Databases from [Open] translate by themselves; call it on errors from
// database/sql used directly.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	if kind := classify(err); kind != nil {
		return &Error{Kind: kind, Err: err}
	}
	return err
}

func classify(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if sqldb.Retryable(err) {
		return ErrRetryable
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "23505":
			return ErrConflict
		case "23503":
			return ErrForeignKey
		case "3D000":
			return errNoDatabase
		}
		return nil
	}
	var my *mysqldrv.MySQLError
	if errors.As(err, &my) {
		switch my.Number {
		case 1062, 1586:
			return ErrConflict
		case 1451, 1452, 1216, 1217:
			return ErrForeignKey
		case 1049:
			return errNoDatabase
		}
		return nil
	}
	var lite *sqlitedrv.Error
	if errors.As(err, &lite) {
		switch lite.Code() {
		case 2067, 1555: // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY
			return ErrConflict
		case 787: // SQLITE_CONSTRAINT_FOREIGNKEY
			return ErrForeignKey
		}
		if lite.Code()&0xff == 19 && strings.Contains(lite.Error(), "FOREIGN KEY") {
			// ON DELETE RESTRICT reports SQLITE_CONSTRAINT_TRIGGER.
			return ErrForeignKey
		}
	}
	return nil
}

// errNoDatabase: the DSN names a database that does not exist. For a
// tenant, that makes the tenant unknown.
var errNoDatabase = errors.New("data: database does not exist")

// IsRetryable reports whether err is a serialization failure, deadlock or
// lock timeout, after which the whole transaction may be run again.
func IsRetryable(err error) bool { return errors.Is(err, ErrRetryable) }

// translator is the gorm plugin that translates every statement's error.
type translator struct{ driver string }

func (translator) Name() string { return "apex:translate" }

func (t translator) Initialize(db *gorm.DB) error {
	fn := func(db *gorm.DB) {
		if db.Error != nil && !errors.Is(db.Error, context.Canceled) {
			db.Error = Translate(db.Error)
		}
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Create().After("*").Register("apex:translate", fn),
		cb.Query().After("*").Register("apex:translate", fn),
		cb.Update().After("*").Register("apex:translate", fn),
		cb.Delete().After("*").Register("apex:translate", fn),
		cb.Row().After("*").Register("apex:translate", fn),
		cb.Raw().After("*").Register("apex:translate", fn),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
