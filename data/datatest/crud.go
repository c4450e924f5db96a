package datatest

import (
	"context"
	"errors"
	"testing"

	"github.com/apexgo/apex/data"
)

// RunCRUD creates, reads, updates and deletes an item through a repository that asks data.Registry for each operation's database; reading a deleted row is data.ErrNotFound.
func RunCRUD(t *testing.T, _ Features, newDB NewDB) {
	ctx := context.Background()
	db, r := setup(t, newDB)
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
}
