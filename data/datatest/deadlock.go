package datatest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/apexgo/apex/data"
)

// RunDeadlock makes two transactions lock rows in opposite orders: exactly one fails, with data.ErrRetryable. Skipped unless f.Deadlocks.
func RunDeadlock(t *testing.T, f Features, newDB NewDB) {
	ctx := context.Background()
	if !f.Deadlocks {
		t.Skip("the driver serializes writers")
	}
	db, r := setup(t, newDB)
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
}
