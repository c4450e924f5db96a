package testservice_test

import (
	"strings"
	"testing"

	"github.com/apexgo/apex/internal/testservice"
)

func TestHostPort(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.0.0.1:6379": "127.0.0.1:6379",
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable": "127.0.0.1:5432",
		"root@tcp(127.0.0.1:3306)/test?parseTime=true":            "127.0.0.1:3306",
		"redis://:pw@localhost:6380/0":                            "localhost:6380",
	} {
		if got := testservice.HostPort(in); got != want {
			t.Errorf("HostPort(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnique(t *testing.T) {
	t.Parallel()
	a, b := testservice.Unique("apex"), testservice.Unique("apex")
	if a == b || !strings.HasPrefix(a, "apex_") || len(a) != len("apex_")+12 {
		t.Fatalf("%q %q", a, b)
	}
}

// The services CI promises are reachable; with APEX_REQUIRE_SERVICES=1 a
// missing one fails here first, with a clear message.
func TestServicesAnswer(t *testing.T) {
	t.Parallel()
	for _, s := range []testservice.Service{testservice.Postgres, testservice.MySQL, testservice.Redis} {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			if v := testservice.Need(t, s); v == "" {
				t.Fatal("empty address")
			}
		})
	}
}
