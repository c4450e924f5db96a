// Package datatest is the conformance suite of apex's data module: the
// behaviour every database driver must show through gorm, apex's error
// translation, [data.InTx] and the goose migrator — CRUD through a
// repository, sentinel errors, transactions (commit, rollback, panic,
// nested savepoints), migrations up and down, a long query canceled by
// its context — and the suite of the [data.TenantResolver] port
// ([RunResolver]). apex runs both against Postgres, MariaDB and SQLite;
// run them against your own setup the same way:
//
//	datatest.Run(t, datatest.Features{Deadlocks: true}, datatest.Postgres)
//
// The suite makes each test's isolation itself: it generates a name per
// test and the constructor creates what the name isolates (a schema, a
// database, a file); [RunIsolation] fails a constructor that ignores it.
// Every behaviour is also exported on its own ([RunCRUD], [RunTx], ...),
// in a file of its own.
//
// It also creates isolated databases for tests: [Postgres], [MySQL] and
// [SQLite] (a schema, a database, a temporary file, each dropped when the
// test ends), and [PostgresDSN], [MySQLDSN], [SQLiteDSN] for DSNs.
package datatest

import (
	"context"
	"testing"

	"gorm.io/gorm"

	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/internal/testservice"
)

// Features says what a driver can do that the suite can check.
type Features struct {
	// Deadlocks: two transactions locking rows in opposite orders make
	// one fail with data.ErrRetryable (Postgres, MySQL; SQLite serializes
	// writers instead).
	Deadlocks bool
	// SleepSQL runs for several seconds, for the cancellation test (run
	// with Exec); empty skips it.
	SleepSQL string
}

// NewDB returns an empty database (from data.Open, pinged) isolated
// under name: a schema, a database or a file of that name, created for
// the test and dropped when t ends. The suite generates name per test:
// lower-case letters, digits and '_', at most 20 bytes.
type NewDB func(t *testing.T, name string) *gorm.DB

// Run runs every behaviour of the suite, each in a parallel subtest on
// databases of its own.
func Run(t *testing.T, f Features, newDB NewDB) {
	for name, run := range map[string]func(*testing.T, Features, NewDB){
		"Isolation": RunIsolation, "CRUD": RunCRUD, "Errors": RunErrors, "Deadlock": RunDeadlock,
		"Tx": RunTx, "Migrations": RunMigrations, "Cancel": RunCancel,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run(t, f, newDB)
		})
	}
}

// IsolationName returns a name unique to this run, for a schema, a
// database or a file: a letter, then lower-case letters, digits and '_',
// 15 bytes.
func IsolationName() string { return testservice.Unique("dt") }

// open returns a database of its own for the test, from a name the suite
// generated, and checks that it is empty.
func open(t *testing.T, newDB NewDB) *gorm.DB {
	t.Helper()
	name := IsolationName()
	db := newDB(t, name)
	if db == nil {
		t.Fatalf("datatest: NewDB(%q) returned nil", name)
	}
	if db.Migrator().HasTable(&Item{}) {
		t.Fatalf("datatest: the database for %q is not empty: it has the suite's items table (isolate by name)", name)
	}
	return db
}

// setup opens a database of its own with the suite's tables.
func setup(t *testing.T, newDB NewDB) (*gorm.DB, repo) {
	t.Helper()
	db := open(t, newDB)
	if err := db.AutoMigrate(&Item{}, &Tag{}); err != nil {
		t.Fatalf("automigrate: %v", err)
	}
	return db, repo{reg: data.Single(db)}
}

// Item is the suite's entity.
type Item struct {
	// ID is the primary key.
	ID uint `gorm:"primaryKey"`
	// Name is unique.
	Name string `gorm:"size:100;uniqueIndex"`
	// Qty is updated by the CRUD test.
	Qty int
}

// Tag belongs to an Item (a foreign key).
type Tag struct {
	// ID is the primary key.
	ID uint `gorm:"primaryKey"`
	// ItemID refers to an Item; deleting the Item is refused.
	ItemID uint
	// Item is the parent, for gorm's constraint.
	Item Item `gorm:"constraint:OnDelete:RESTRICT"`
	// Label is free text.
	Label string `gorm:"size:50"`
}

// repo is a repository written the apex way: every method asks the
// registry for the context's database.
type repo struct{ reg data.Registry }

func (r repo) create(ctx context.Context, it *Item) error {
	db, err := r.reg.DB(ctx)
	if err != nil {
		return err
	}
	return db.Create(it).Error
}

func (r repo) get(ctx context.Context, id uint) (Item, error) {
	db, err := r.reg.DB(ctx)
	if err != nil {
		return Item{}, err
	}
	var it Item
	err = db.First(&it, id).Error
	return it, err
}

func (r repo) byName(ctx context.Context, name string) (Item, error) {
	db, err := r.reg.DB(ctx)
	if err != nil {
		return Item{}, err
	}
	var it Item
	err = db.Where("name = ?", name).First(&it).Error
	return it, err
}
