// Package migrations holds the example's SQL migrations, embedded.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed *.sql
var files embed.FS

// FS returns the migrations, for data.Migrations and data.NewMigrator.
func FS() fs.FS { return files }
