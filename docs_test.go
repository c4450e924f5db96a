package apex_test

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/cache"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/internal/redisconn"
	"github.com/apexgo/apex/observe"
	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/realtime"
)

// configKeys lists the dotted keys of a config struct with their defaults.
func configKeys(prefix string, v reflect.Value, out map[string]string) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("koanf"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := prefix + "." + name
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[app.Secret]() {
			configKeys(key, fv, out)
			continue
		}
		switch x := fv.Interface().(type) {
		case time.Duration:
			out[key] = x.String()
		default:
			out[key] = fmt.Sprint(x)
		}
	}
}

// Every config key of every module is documented, with its env name.
func TestDocsListEveryConfigKey(t *testing.T) {
	t.Parallel()
	for doc, sections := range map[string]map[string]any{
		"docs/app.md":      {"service": app.DefaultServiceConfig()},
		"docs/observe.md":  {"observe": observe.DefaultConfig()},
		"docs/httpx.md":    {"http": httpx.DefaultConfig()},
		"docs/cache.md":    {"cache": cache.DefaultConfig(), "redis": redisconn.DefaultConfig()},
		"docs/data.md":     {"data": data.DefaultConfig()},
		"docs/auth.md":     {"auth": auth.DefaultConfig()},
		"docs/queue.md":    {"queue": queue.DefaultConfig()},
		"docs/realtime.md": {"realtime": realtime.DefaultConfig()},
	} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for prefix, cfg := range sections {
			keys := map[string]string{}
			configKeys(prefix, reflect.ValueOf(cfg), keys)
			for k := range keys {
				if !strings.Contains(text, "`"+k+"`") || !strings.Contains(text, "`"+app.EnvName(k)+"`") {
					t.Errorf("%s does not document `%s` / `%s`", doc, k, app.EnvName(k))
				}
			}
		}
	}
	if os.Getenv("APEX_PRINT_KEYS") != "" {
		for prefix, cfg := range map[string]any{
			"service": app.DefaultServiceConfig(), "observe": observe.DefaultConfig(), "http": httpx.DefaultConfig(),
			"cache": cache.DefaultConfig(), "redis": redisconn.DefaultConfig(),
			"data": data.DefaultConfig(), "auth": auth.DefaultConfig(),
		} {
			keys := map[string]string{}
			configKeys(prefix, reflect.ValueOf(cfg), keys)
			for k, d := range keys {
				fmt.Printf("| `%s` | `%s` | %s |\n", k, app.EnvName(k), d)
			}
		}
	}
}
