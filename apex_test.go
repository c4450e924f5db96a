package apex_test

import (
	"strings"
	"testing"

	"go.uber.org/fx"

	"github.com/apexgo/apex"
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
