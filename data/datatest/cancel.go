package datatest

import (
	"context"
	"testing"
	"time"
)

// RunCancel cancels a long statement (f.SleepSQL) through its context and uses the pool afterwards. Skipped without f.SleepSQL.
func RunCancel(t *testing.T, f Features, newDB NewDB) {
	ctx := context.Background()
	if f.SleepSQL == "" {
		t.Skip("no SleepSQL")
	}
	db := open(t, newDB)
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
}
