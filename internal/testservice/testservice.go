// Package testservice finds the real services apex's tests run against
// (Postgres, MariaDB, Redis), as DESIGN.md says: addresses come from
// APEX_TEST_POSTGRES_DSN, APEX_TEST_MYSQL_DSN and APEX_TEST_REDIS_ADDR,
// defaulting to the standard local ports. A test whose service does not
// answer is skipped with a message naming the variable, unless
// APEX_REQUIRE_SERVICES=1 (set by .ci/run), where it fails.
package testservice

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// A Service is one backing server a test can need.
type Service struct {
	// Name is for messages ("Redis").
	Name string
	// Var is the environment variable that overrides Default.
	Var string
	// Default is the DSN or address used when Var is unset.
	Default string
}

// The services apex tests against.
var (
	Postgres = Service{Name: "PostgreSQL", Var: "APEX_TEST_POSTGRES_DSN", Default: "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"}
	MySQL    = Service{Name: "MariaDB/MySQL", Var: "APEX_TEST_MYSQL_DSN", Default: "root@tcp(127.0.0.1:3306)/test?parseTime=true"}
	Redis    = Service{Name: "Redis", Var: "APEX_TEST_REDIS_ADDR", Default: "127.0.0.1:6379"}
)

// Required reports whether APEX_REQUIRE_SERVICES=1.
func Required() bool { return os.Getenv("APEX_REQUIRE_SERVICES") == "1" }

// Need returns the service's DSN or address once its TCP port answers.
// Otherwise it skips the test, or fails it when services are required.
func Need(t testing.TB, s Service) string {
	t.Helper()
	v := os.Getenv(s.Var)
	if v == "" {
		v = s.Default
	}
	addr := HostPort(v)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		msg := s.Name + " is not reachable at " + addr + " (set " + s.Var + "): " + err.Error()
		if Required() {
			t.Fatal(msg + "; APEX_REQUIRE_SERVICES=1 makes this a failure")
		}
		t.Skip(msg)
	}
	_ = c.Close()
	return v
}

// HostPort extracts host:port from an address, a URL-style DSN
// (postgres://u@h:p/db) or a go-sql-driver DSN (u@tcp(h:p)/db).
func HostPort(v string) string {
	if i := strings.Index(v, "tcp("); i >= 0 {
		rest := v[i+4:]
		if j := strings.IndexByte(rest, ')'); j >= 0 {
			return rest[:j]
		}
	}
	if u, err := url.Parse(v); err == nil && u.Host != "" {
		return u.Host
	}
	return v
}

// Unique returns a name unique to this test run, for a key prefix, stream
// or schema: the prefix, an underscore and 12 random hex characters.
func Unique(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}
