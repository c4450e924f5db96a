package apptest_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/app/apptest"
)

func TestStaticConfigConformance(t *testing.T) {
	t.Parallel()
	apptest.RunConfig(t, func(t *testing.T, values map[string]string) app.Config {
		m := make(map[string]any, len(values))
		for k, v := range values {
			m[k] = v
		}
		return app.Static(m)
	})
}

func TestLoadFromEnvConformance(t *testing.T) {
	t.Parallel()
	apptest.RunConfig(t, func(t *testing.T, values map[string]string) app.Config {
		var env []string
		for k, v := range values {
			env = append(env, app.EnvName(k)+"="+v)
		}
		l, err := app.Load(app.LoadParams{Dir: t.TempDir(), DotEnv: "-", Environ: env})
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

func TestLoadFromYAMLConformance(t *testing.T) {
	t.Parallel()
	apptest.RunConfig(t, func(t *testing.T, values map[string]string) app.Config {
		dir := t.TempDir()
		// Flat keys as nested YAML, values as YAML strings or lists.
		keys := make([]string, 0, len(values))
		for k := range values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		var prev []string
		for _, k := range keys {
			parts := strings.Split(k, ".")
			common := 0
			for common < len(prev)-1 && common < len(parts)-1 && prev[common] == parts[common] {
				common++
			}
			for i := common; i < len(parts)-1; i++ {
				b.WriteString(strings.Repeat("  ", i) + parts[i] + ":\n")
			}
			v := values[k]
			if strings.Contains(v, ",") {
				v = "[" + v + "]"
			} else {
				v = `"` + v + `"`
			}
			b.WriteString(strings.Repeat("  ", len(parts)-1) + parts[len(parts)-1] + ": " + v + "\n")
			prev = parts
		}
		if err := os.WriteFile(filepath.Join(dir, "default.yaml"), []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := app.Load(app.LoadParams{Dir: dir, DotEnv: "-", Environ: []string{}})
		if err != nil {
			t.Fatalf("%v\n%s", err, b.String())
		}
		return l
	})
}
