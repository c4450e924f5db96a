package datatest

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/apexgo/apex/data"
)

// RunMigrations applies two goose migrations with data.NewMigrator, checks the version and status, and rolls the latest back.
func RunMigrations(t *testing.T, _ Features, newDB NewDB) {
	ctx := context.Background()
	db := open(t, newDB)
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
}
