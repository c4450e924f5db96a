package datatest

import (
	"testing"
)

// RunIsolation checks that the constructor isolates by the name it is
// given: a table created under one name is absent under another, and each
// database starts empty.
func RunIsolation(t *testing.T, _ Features, newDB NewDB) {
	a, b := open(t, newDB), open(t, newDB)
	if err := a.AutoMigrate(&Item{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Create(&Item{Name: "only in a"}).Error; err != nil {
		t.Fatal(err)
	}
	if b.Migrator().HasTable(&Item{}) {
		t.Fatal("a table created under one name is visible under another: NewDB must isolate by its name argument")
	}
}
