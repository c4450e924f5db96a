package datatest

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/internal/testservice"
)

// PostgresDSN creates a schema of its own on the test Postgres
// (APEX_TEST_POSTGRES_DSN), dropped with everything in it when the test
// ends, and returns a DSN whose search_path is that schema. The test is
// skipped (or failed, with APEX_REQUIRE_SERVICES=1) without Postgres.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	schema := testservice.Unique("t")
	return withParam(PostgresSchema(t, schema), "search_path", schema)
}

// PostgresSchema creates schema name in the test Postgres's database,
// drops it when the test ends and returns the base DSN.
func PostgresSchema(t testing.TB, name string) string {
	t.Helper()
	base := testservice.Need(t, testservice.Postgres)
	scratch(t, "pgx", base, `CREATE SCHEMA "`+name+`"`, `DROP SCHEMA "`+name+`" CASCADE`)
	return base
}

// PostgresDatabase creates database name on the test Postgres, drops it
// (and ends its connections) when the test ends, and returns its DSN.
func PostgresDatabase(t testing.TB, name string) string {
	t.Helper()
	base := testservice.Need(t, testservice.Postgres)
	scratch(t, "pgx", base, `CREATE DATABASE "`+name+`"`, `DROP DATABASE "`+name+`" WITH (FORCE)`)
	return PostgresWithDatabase(base, name)
}

// PostgresWithDatabase returns a URL DSN naming database db.
func PostgresWithDatabase(dsn, db string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return dsn + " dbname=" + db
	}
	u.Path = "/" + db
	return u.String()
}

// MySQLDatabase creates database name on the test MySQL/MariaDB, drops it
// when the test ends, and returns its DSN in the go-sql-driver form.
func MySQLDatabase(t testing.TB, name string) string {
	t.Helper()
	base := testservice.Need(t, testservice.MySQL)
	scratch(t, "mysql", base, "CREATE DATABASE `"+name+"`", "DROP DATABASE `"+name+"`")
	return MySQLWithDatabase(base, name)
}

// MySQLDSN creates a database of its own on the test MySQL/MariaDB
// (APEX_TEST_MYSQL_DSN), dropped when the test ends, and returns its DSN
// in the go-sql-driver form.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	base := testservice.Need(t, testservice.MySQL)
	name := testservice.Unique("t")
	scratch(t, "mysql", base, "CREATE DATABASE "+name, "DROP DATABASE "+name)
	return MySQLWithDatabase(base, name)
}

// scratch runs create now and drop when the test ends.
func scratch(t testing.TB, driver, dsn, create, drop string) {
	t.Helper()
	if driver == "mysql" && strings.HasPrefix(dsn, "mysql://") {
		t.Fatalf("datatest: APEX_TEST_MYSQL_DSN must be in the go-sql-driver form user@tcp(host:port)/db")
	}
	admin, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("datatest: %v", err)
	}
	admin.SetMaxOpenConns(1)
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(cctx, create); err != nil {
		_ = admin.Close()
		t.Fatalf("datatest: %s: %v", create, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, drop); err != nil {
			t.Errorf("datatest: %s: %v", drop, err)
		}
	})
}

// MySQLWithDatabase returns a go-sql-driver DSN naming database db.
func MySQLWithDatabase(dsn, db string) string {
	i := strings.Index(dsn, ")/")
	if i < 0 {
		return dsn
	}
	rest := dsn[i+2:]
	q := ""
	if j := strings.IndexByte(rest, '?'); j >= 0 {
		q = rest[j:]
	}
	if !strings.Contains(q, "parseTime") {
		if q == "" {
			q = "?parseTime=true"
		} else {
			q += "&parseTime=true"
		}
	}
	return dsn[:i+2] + db + q
}

// SQLiteDSN returns a DSN for a new SQLite file under t.TempDir().
func SQLiteDSN(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
}

// Open opens dsn with data.Open, pings it and closes it when the test ends.
func Open(t testing.TB, dsn string) *gorm.DB {
	t.Helper()
	db, err := data.Open(data.DBConfig{DSN: app.NewSecret(dsn), Pool: data.DefaultConfig().Pool}, data.OpenParams{Name: "test"})
	if err != nil {
		t.Fatalf("datatest: open: %v", err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { _ = sqlDB.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := data.Ping(ctx, db, 5*time.Second, "test"); err != nil {
		t.Fatalf("datatest: %v", err)
	}
	return db
}

// withParam adds a query parameter to a URL DSN, or a key=value to a
// key/value DSN.
func withParam(dsn, key, value string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "=" + value
}
