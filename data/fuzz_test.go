package data_test

import (
	"regexp"
	"testing"

	"github.com/apexgo/apex/data"
)

// ValidTenantID reads an untrusted header: it must agree with the
// documented pattern on every input, and accept nothing that could
// change the meaning of a DSN, a schema name or a path.
func FuzzValidTenantID(f *testing.F) {
	pattern := regexp.MustCompile(data.TenantIDPattern)
	for _, s := range []string{"acme", "a", "", "-a", "a-b_c", "../x", "a b", "ä", "a\x00", "A1", "x\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		got := data.ValidTenantID(id)
		if want := pattern.MatchString(id); got != want {
			t.Fatalf("ValidTenantID(%q) = %v, TenantIDPattern says %v", id, got, want)
		}
		if got && regexp.MustCompile(`[^A-Za-z0-9_-]`).MatchString(id) {
			t.Fatalf("ValidTenantID accepted %q", id)
		}
	})
}
