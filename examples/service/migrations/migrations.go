// Package migrations holds the tracker's SQL migrations (goose format,
// portable between SQLite, Postgres and MySQL), embedded in every binary.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed *.sql
var files embed.FS

// FS is the migration set, rooted at the SQL files.
func FS() fs.FS { return files }

// Table is the goose version table of the tracker's migrations.
const Table = "tracker_db_version"
