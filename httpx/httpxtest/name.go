package httpxtest

import (
	"regexp"
	"testing"
)

var nameRE = regexp.MustCompile(`^[a-z0-9_.-]{1,64}$`)

// Name checks that the check's name is valid for /readyz ([a-z0-9_.-],
// at most 64 bytes) and stable between calls.
func Name(t *testing.T, f Features, newCheck NewCheck) {
	for _, c := range checks(t, f, newCheck) {
		if !nameRE.MatchString(c.Name()) {
			t.Fatalf("name %q must match %s", c.Name(), nameRE)
		}
		if c.Name() != c.Name() {
			t.Fatalf("name %q must be stable", c.Name())
		}
	}
}
