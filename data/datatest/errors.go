package datatest

import (
	"context"
	"errors"
	"testing"

	"gorm.io/gorm"

	"github.com/apexgo/apex/data"
)

// RunErrors checks the sentinel errors: not found, a unique and a primary-key violation (data.ErrConflict), a missing and a still-referenced parent (data.ErrForeignKey), through gorm and through raw statements, each matching its own sentinel only.
func RunErrors(t *testing.T, _ Features, newDB NewDB) {
	ctx := context.Background()
	db, r := setup(t, newDB)
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
}
