// Package datatest is the conformance suite of apex's data module: the
// behaviour every database driver must show through gorm, apex's error
// translation, [data.InTx] and the goose migrator — CRUD through a
// repository, sentinel errors, transactions (commit, rollback, panic,
// nested savepoints), migrations up and down, a long query canceled by
// its context. apex runs it against Postgres, MariaDB and SQLite; run it
// against your own setup the same way.
//
// It also creates isolated databases for tests: [Postgres] (a schema of
// its own), [MySQL] (a database of its own) and [SQLite] (a temporary
// file), each dropped when the test ends.
package datatest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"gorm.io/gorm"

	"github.com/apexgo/apex/data"
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

// Item is the suite's entity.
type Item struct {
	ID   uint   `gorm:"primaryKey"`
	Name string `gorm:"size:100;uniqueIndex"`
	Qty  int
}

// Tag belongs to an Item (a foreign key).
type Tag struct {
	ID     uint `gorm:"primaryKey"`
	ItemID uint
	Item   Item   `gorm:"constraint:OnDelete:RESTRICT"`
	Label  string `gorm:"size:50"`
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

// Run runs the suite; newDB returns an empty database (from data.Open) of
// its own for each subtest.
func Run(t *testing.T, f Features, newDB func(t *testing.T) *gorm.DB) {
	setup := func(t *testing.T) (*gorm.DB, repo) {
		t.Helper()
		db := newDB(t)
		if err := db.AutoMigrate(&Item{}, &Tag{}); err != nil {
			t.Fatalf("automigrate: %v", err)
		}
		return db, repo{reg: data.Single(db)}
	}
	ctx := context.Background()

	t.Run("CRUD", func(t *testing.T) {
		t.Parallel()
		db, r := setup(t)
		it := Item{Name: "apple", Qty: 3}
		if err := r.create(ctx, &it); err != nil || it.ID == 0 {
			t.Fatalf("create: id %d, %v", it.ID, err)
		}
		got, err := r.get(ctx, it.ID)
		if err != nil || got != it {
			t.Fatalf("get = %+v, %v; want %+v", got, err, it)
		}
		if err := db.Model(&Item{}).Where("id = ?", it.ID).Update("qty", 5).Error; err != nil {
			t.Fatal(err)
		}
		if got, _ := r.get(ctx, it.ID); got.Qty != 5 {
			t.Fatalf("qty after update = %d", got.Qty)
		}
		if err := db.Delete(&Item{}, it.ID).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := r.get(ctx, it.ID); !errors.Is(err, data.ErrNotFound) {
			t.Fatalf("get after delete: %v, want ErrNotFound", err)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		db, r := setup(t)
		_, err := r.byName(ctx, "nobody")
		if !errors.Is(err, data.ErrNotFound) || !errors.Is(err, gorm.ErrRecordNotFound) {
			t.Errorf("not found: %v, want ErrNotFound wrapping gorm.ErrRecordNotFound", err)
		}
		it := Item{Name: "dup"}
		if err := r.create(ctx, &it); err != nil {
			t.Fatal(err)
		}
		err = r.create(ctx, &Item{Name: "dup"})
		if !errors.Is(err, data.ErrConflict) {
			t.Errorf("duplicate name: %v, want ErrConflict", err)
		}
		err = r.create(ctx, &Item{ID: it.ID, Name: "other"})
		if !errors.Is(err, data.ErrConflict) {
			t.Errorf("duplicate primary key: %v, want ErrConflict", err)
		}
		err = db.Create(&Tag{ItemID: 999999, Label: "orphan"}).Error
		if !errors.Is(err, data.ErrForeignKey) {
			t.Errorf("missing parent: %v, want ErrForeignKey", err)
		}
		if err := db.Create(&Tag{ItemID: it.ID, Label: "x"}).Error; err != nil {
			t.Fatal(err)
		}
		err = db.Delete(&Item{}, it.ID).Error
		if !errors.Is(err, data.ErrForeignKey) {
			t.Errorf("deleting a referenced parent: %v, want ErrForeignKey", err)
		}
		// Raw statements are translated too.
		err = db.Exec("INSERT INTO items (name, qty) VALUES (?, ?)", "dup", 1).Error
		if !errors.Is(err, data.ErrConflict) {
			t.Errorf("raw duplicate: %v, want ErrConflict", err)
		}
		for _, e := range []error{data.ErrConflict, data.ErrForeignKey, data.ErrRetryable} {
			if errors.Is(err, e) != (e == data.ErrConflict) {
				t.Errorf("%v matches %v", err, e)
			}
		}
	})

	t.Run("Deadlock", func(t *testing.T) {
		t.Parallel()
		if !f.Deadlocks {
			t.Skip("the driver serializes writers")
		}
		db, r := setup(t)
		a, b := Item{Name: "a"}, Item{Name: "b"}
		if err := r.create(ctx, &a); err != nil {
			t.Fatal(err)
		}
		if err := r.create(ctx, &b); err != nil {
			t.Fatal(err)
		}
		reg := data.Single(db)
		var ready sync.WaitGroup
		ready.Add(2)
		errs := make(chan error, 2)
		lock := func(first, second uint) {
			errs <- data.InTx(ctx, reg, func(ctx context.Context) error {
				tx, _ := reg.DB(ctx)
				if err := tx.Exec("UPDATE items SET qty = qty + 1 WHERE id = ?", first).Error; err != nil {
					ready.Done()
					return err
				}
				ready.Done()
				ready.Wait()
				return tx.Exec("UPDATE items SET qty = qty + 1 WHERE id = ?", second).Error
			})
		}
		go lock(a.ID, b.ID)
		go lock(b.ID, a.ID)
		e1, e2 := <-errs, <-errs
		if (e1 == nil) == (e2 == nil) {
			t.Fatalf("want exactly one transaction to fail: %v, %v", e1, e2)
		}
		if err := errors.Join(e1, e2); !data.IsRetryable(err) {
			t.Fatalf("deadlock: %v, want ErrRetryable", err)
		}
	})

	t.Run("Tx", func(t *testing.T) {
		t.Parallel()
		db, r := setup(t)
		reg := r.reg
		// Commit: visible afterwards; inside, the repository sees its own
		// writes while other connections do not.
		err := data.InTx(ctx, reg, func(ctx context.Context) error {
			if err := r.create(ctx, &Item{Name: "committed"}); err != nil {
				return err
			}
			if _, err := r.byName(ctx, "committed"); err != nil {
				return fmt.Errorf("own write not visible in the transaction: %w", err)
			}
			var n int64
			if err := db.WithContext(context.Background()).Model(&Item{}).Where("name = ?", "committed").Count(&n).Error; err != nil {
				return err
			}
			if n != 0 {
				return errors.New("uncommitted write visible outside the transaction")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("commit: %v", err)
		}
		if _, err := r.byName(ctx, "committed"); err != nil {
			t.Fatalf("after commit: %v", err)
		}
		// Rollback on error: fn's error comes back as is.
		boom := errors.New("boom")
		err = data.InTx(ctx, reg, func(ctx context.Context) error {
			if err := r.create(ctx, &Item{Name: "rolled back"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("rollback: %v, want boom", err)
		}
		if _, err := r.byName(ctx, "rolled back"); !errors.Is(err, data.ErrNotFound) {
			t.Fatalf("after rollback: %v, want ErrNotFound", err)
		}
		// Panic: rolled back, panic goes on.
		func() {
			defer func() {
				if v := recover(); v != "kaboom" {
					t.Fatalf("recovered %v, want kaboom", v)
				}
			}()
			_ = data.InTx(ctx, reg, func(ctx context.Context) error {
				if err := r.create(ctx, &Item{Name: "panicked"}); err != nil {
					return err
				}
				panic("kaboom")
			})
		}()
		if _, err := r.byName(ctx, "panicked"); !errors.Is(err, data.ErrNotFound) {
			t.Fatalf("after panic: %v, want ErrNotFound", err)
		}
		// Nested: the inner failure rolls back to its savepoint only.
		err = data.InTx(ctx, reg, func(ctx context.Context) error {
			if err := r.create(ctx, &Item{Name: "outer1"}); err != nil {
				return err
			}
			inner := data.InTx(ctx, reg, func(ctx context.Context) error {
				if err := r.create(ctx, &Item{Name: "inner"}); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(inner, boom) {
				return fmt.Errorf("inner: %v", inner)
			}
			if err := data.InTx(ctx, reg, func(ctx context.Context) error {
				return r.create(ctx, &Item{Name: "inner ok"})
			}); err != nil {
				return err
			}
			return r.create(ctx, &Item{Name: "outer2"})
		})
		if err != nil {
			t.Fatalf("nested: %v", err)
		}
		for name, want := range map[string]bool{"outer1": true, "outer2": true, "inner ok": true, "inner": false} {
			_, err := r.byName(ctx, name)
			if (err == nil) != want {
				t.Errorf("%s present = %v, want %v", name, err == nil, want)
			}
		}
		// A constraint error inside is translated and rolls back.
		err = data.InTx(ctx, reg, func(ctx context.Context) error {
			if err := r.create(ctx, &Item{Name: "tx-a"}); err != nil {
				return err
			}
			return r.create(ctx, &Item{Name: "committed"})
		})
		if !errors.Is(err, data.ErrConflict) {
			t.Fatalf("conflict in tx: %v", err)
		}
		if _, err := r.byName(ctx, "tx-a"); !errors.Is(err, data.ErrNotFound) {
			t.Fatalf("tx-a survived the rollback: %v", err)
		}
	})

	t.Run("Migrations", func(t *testing.T) {
		t.Parallel()
		db := newDB(t)
		fsys := fstest.MapFS{
			"00001_notes.sql": {Data: []byte("-- +goose Up\nCREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(200));\n-- +goose Down\nDROP TABLE notes;\n")},
			"00002_tags.sql":  {Data: []byte("-- +goose Up\nCREATE TABLE note_tags (note_id INTEGER, tag VARCHAR(50));\n-- +goose Down\nDROP TABLE note_tags;\n")},
		}
		m, err := data.NewMigrator(db, fsys, data.MigratorParams{})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if n, err := m.Up(ctx); err != nil || n != 2 {
			t.Fatalf("up: %d, %v", n, err)
		}
		if n, err := m.Up(ctx); err != nil || n != 0 {
			t.Fatalf("second up: %d, %v", n, err)
		}
		if v, err := m.Version(ctx); err != nil || v != 2 {
			t.Fatalf("version %d, %v", v, err)
		}
		if err := db.Exec("INSERT INTO note_tags (note_id, tag) VALUES (1, 'x')").Error; err != nil {
			t.Fatal(err)
		}
		if err := m.Down(ctx); err != nil {
			t.Fatal(err)
		}
		st, err := m.Status(ctx)
		if err != nil || len(st) != 2 || !st[0].Applied || st[1].Applied || st[1].Name != "00002_tags.sql" {
			t.Fatalf("status %+v, %v", st, err)
		}
		if db.Migrator().HasTable("note_tags") {
			t.Fatal("note_tags still there after down")
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		if f.SleepSQL == "" {
			t.Skip("no SleepSQL")
		}
		db := newDB(t)
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := db.WithContext(cctx).Exec(f.SleepSQL).Error
		if err == nil {
			t.Fatal("the long query was not canceled")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("cancel took %v", d)
		}
		// The pool is still usable.
		if err := db.Exec("SELECT 1").Error; err != nil {
			t.Fatalf("after cancel: %v", err)
		}
	})
}
