package datatest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/apexgo/apex/data"
)

// RunTx checks data.InTx: commit, rollback on error (the error returned as is), rollback on panic (the panic goes on), nested transactions as savepoints, and a constraint error inside rolling the whole back.
func RunTx(t *testing.T, _ Features, newDB NewDB) {
	ctx := context.Background()
	db, r := setup(t, newDB)
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
}
