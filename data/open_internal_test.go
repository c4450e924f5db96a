package data

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestResolveDriver(t *testing.T) {
	t.Parallel()
	cases := []struct {
		driver, dsn      string
		wantDriver, want string
		err              bool
	}{
		{"auto", "postgres://u:p@h:5432/db?sslmode=disable", Postgres, "postgres://u:p@h:5432/db?sslmode=disable", false},
		{"auto", "postgresql://h/db", Postgres, "postgresql://h/db", false},
		{"auto", "host=h dbname=db user=u", Postgres, "host=h dbname=db user=u", false},
		{"auto", "mysql://u:p@h/db", MySQL, "u:p@tcp(h:3306)/db?parseTime=true", false},
		{"auto", "mysql://u@h:3307/db?parseTime=false&loc=UTC", MySQL, "u@tcp(h:3307)/db?loc=UTC&parseTime=false", false},
		{"auto", "u:p@tcp(h:3306)/db", MySQL, "u:p@tcp(h:3306)/db", false},
		{"auto", "sqlite:var/x.db", SQLite, "var/x.db", false},
		{"auto", "sqlite::memory:", SQLite, ":memory:", false},
		{"auto", "sqlite:///abs/x.db", SQLite, "/abs/x.db", false},
		{"auto", "file:x.db?mode=ro", SQLite, "file:x.db?mode=ro", false},
		{"auto", "x.db", SQLite, "x.db", false},
		{"sqlite", "whatever", SQLite, "whatever", false},
		{"mysql", "postgres://h/db", "", "", true},
		{"auto", "h:5432", "", "", true},
	}
	for _, c := range cases {
		d, dsn, err := resolveDriver(c.driver, c.dsn)
		if (err != nil) != c.err || d != c.wantDriver || dsn != c.want {
			t.Errorf("resolveDriver(%q, %q) = %q, %q, %v; want %q, %q, err %v", c.driver, c.dsn, d, dsn, err, c.wantDriver, c.want, c.err)
		}
	}
}

func TestDescribeHidesCredentials(t *testing.T) {
	t.Parallel()
	for driver, dsn := range map[string]string{
		Postgres: "postgres://u:s3cret@h:5432/db?password=s3cret",
		MySQL:    "u:s3cret@tcp(h:3306)/db?x=s3cret",
		SQLite:   "file:x.db?_auth_pass=s3cret",
	} {
		if got := describe(driver, dsn); got == "" || strings.Contains(got, "s3cret") {
			t.Errorf("describe(%s) = %q", driver, got)
		}
	}
}

// The schema reaches Postgres quoted, whatever the DSN's form.
func TestWithSearchPathQuotes(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{"postgres://u@h:5432/db?search_path=old", "host=h dbname=db user=u search_path=old"} {
		cfg, err := pgconn.ParseConfig(withSearchPath(dsn, `Tenant_"X"`))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.RuntimeParams["search_path"]; got != `"Tenant_""X"""` {
			t.Errorf("%s: search_path %s", dsn, got)
		}
	}
}
