package apex_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app/apptest"
)

func TestAppendToModulesNeverAliases(t *testing.T) {
	t.Parallel()
	a := append(apex.Modules, fx.Invoke(func() {}))
	b := append(apex.Modules, fx.Invoke(func() {}))
	if &a[len(a)-1] == &b[len(b)-1] {
		t.Fatal("append(apex.Modules, ...) shares its backing array between callers")
	}
}

func TestWithoutUnknownCapabilityFails(t *testing.T) {
	t.Parallel()
	err := fx.New(fx.NopLogger, apex.Without(apex.Capability(99))).Err()
	if err == nil || !strings.Contains(err.Error(), "Capability(99)") {
		t.Fatalf("got %v", err)
	}
}

// Every capability can be left out, alone or all together, and the rest
// still starts and serves its health endpoints (or, without HTTP, runs).
func TestWithoutEachCapabilityStarts(t *testing.T) {
	t.Parallel()
	all := []apex.Capability{apex.HTTP, apex.Cache, apex.Data, apex.Auth, apex.Realtime}
	cases := [][]apex.Capability{all}
	for _, c := range all {
		cases = append(cases, []apex.Capability{c})
	}
	for _, leave := range cases {
		t.Run(fmt.Sprint(leave), func(t *testing.T) {
			t.Parallel()
			a := apptest.New(t, []fx.Option{apex.Without(leave...)})
			if !slices.Contains(leave, apex.HTTP) {
				if r := a.Do(t, http.MethodGet, "/readyz", ""); r.StatusCode != http.StatusOK {
					t.Fatalf("/readyz without %v: %d %s", leave, r.StatusCode, r.Body)
				}
			}
		})
	}
}

func TestCapabilityNames(t *testing.T) {
	t.Parallel()
	for c, want := range map[apex.Capability]string{apex.HTTP: "HTTP", apex.Cache: "Cache", apex.Data: "Data", apex.Auth: "Auth", apex.Realtime: "Realtime"} {
		if c.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(c), c.String(), want)
		}
	}
}
