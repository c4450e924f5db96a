package service_test

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/cache"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/examples/service/core"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/internal/redisconn"
	"github.com/apexgo/apex/observe"
	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/realtime"
)

// No container engine runs here: these tests check what can be checked
// without one.

// dockerfile is the Dockerfile's instructions, continuation lines joined.
func dockerfile(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	cur := ""
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur += s + " "
			continue
		}
		out = append(out, cur+line)
		cur = ""
	}
	return out
}

// TestDockerfile: two stages; the final one is distroless/static (or
// scratch), copies only the build stage's output and runs as a non-root
// user; the build stage's go build command, run here as written, makes
// static binaries (no program interpreter, no dynamic section).
func TestDockerfile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the service's binaries with CGO_ENABLED=0")
	}
	t.Parallel() // its build (all of apex, CGO_ENABLED=0 and -trimpath: a build cache of its own) overlaps TestEquivalence's
	ins := dockerfile(t)
	var froms []int
	for i, in := range ins {
		if strings.HasPrefix(in, "FROM ") {
			froms = append(froms, i)
		}
	}
	if len(froms) != 2 {
		t.Fatalf("want a build stage and a final stage, got %d FROMs", len(froms))
	}
	build, final := ins[froms[0]:froms[1]], ins[froms[1]:]
	if !regexp.MustCompile(`^FROM golang:\S+ AS build$`).MatchString(build[0]) {
		t.Fatalf("build stage: %s", build[0])
	}
	if !regexp.MustCompile(`^FROM (gcr\.io/distroless/static\S*|scratch)$`).MatchString(final[0]) {
		t.Fatalf("final stage is not distroless/static or scratch: %s", final[0])
	}
	user := ""
	for _, in := range final[1:] {
		switch {
		case strings.HasPrefix(in, "USER "):
			user = strings.TrimPrefix(in, "USER ")
		case strings.HasPrefix(in, "COPY ") && !strings.HasPrefix(in, "COPY --from=build "):
			t.Fatalf("the final stage copies something other than the build's output: %s", in)
		case strings.HasPrefix(in, "RUN "):
			t.Fatalf("the final stage runs commands (it has no shell): %s", in)
		}
	}
	if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
		t.Fatalf("final stage user %q: want a non-root user", user)
	}

	var cmd string
	for _, in := range build {
		if strings.HasPrefix(in, "RUN ") && strings.Contains(in, "go build") {
			cmd = strings.TrimPrefix(in, "RUN ")
		}
	}
	if !strings.HasPrefix(cmd, "CGO_ENABLED=0 go build ") || !strings.Contains(cmd, " -o /out/ ") {
		t.Fatalf("build command %q: want CGO_ENABLED=0 go build ... -o /out/ ...", cmd)
	}
	out := t.TempDir()
	run := exec.Command("sh", "-c", strings.Replace(cmd, " -o /out/ ", " -o "+out+"/ ", 1))
	run.Dir = filepath.Join("..", "..") // the Dockerfile's build context: the repository
	if b, err := run.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}
	for _, bin := range []string{"api", "worker", "migrate"} {
		f, err := elf.Open(filepath.Join(out, bin))
		if err != nil {
			t.Fatalf("%s: %v", bin, err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("%s is not static: it has a %v program header", bin, p.Type)
			}
		}
		if s := f.Section(".dynamic"); s != nil {
			t.Errorf("%s is not static: it has a .dynamic section", bin)
		}
		f.Close()
	}
	if !slices.Contains(final, "ENTRYPOINT [\"/usr/local/bin/api\"]") {
		t.Errorf("the image's default entrypoint is not the API: %v", final)
	}
}

// sections are every config section the tracker's processes read: a
// pointer to their defaults.
var sections = map[string]func() any{
	"service":  func() any { c := app.DefaultServiceConfig(); return &c },
	"observe":  func() any { c := observe.DefaultConfig(); return &c },
	"http":     func() any { c := httpx.DefaultConfig(); return &c },
	"redis":    func() any { c := redisconn.DefaultConfig(); return &c },
	"cache":    func() any { c := cache.DefaultConfig(); return &c },
	"data":     func() any { c := data.DefaultConfig(); return &c },
	"auth":     func() any { c := auth.DefaultConfig(); return &c },
	"queue":    func() any { c := queue.DefaultConfig(); return &c },
	"realtime": func() any { c := realtime.DefaultConfig(); return &c },
	"tracker":  func() any { c := core.DefaultConfig(); return &c },
}

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Entrypoint  []string          `yaml:"entrypoint"`
		Restart     string            `yaml:"restart"`
		Environment map[string]string `yaml:"environment"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
}

// interpolation is compose's ${VAR}, ${VAR:-default} and ${VAR:?error}.
var interpolation = regexp.MustCompile(`\$\{([A-Z_]+)(?::?[-?]([^}]*))?\}`)

// TestCompose: the file parses; Postgres, Redis, the migrations as a
// one-shot that the others wait for, two APIs without workers and one
// worker; and every APP_* variable is a key of a config section of apex
// or the tracker, with a value the section accepts.
func TestCompose(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range c.Services {
			if !yield(n) {
				return
			}
		}
	})
	if !slices.Equal(names, []string{"api1", "api2", "migrate", "postgres", "redis", "worker"}) {
		t.Fatalf("services %v", names)
	}
	entry := func(s string) string { return strings.Join(c.Services[s].Entrypoint, " ") }
	if m := c.Services["migrate"]; entry("migrate") != "/usr/local/bin/migrate up" || m.Restart != "no" {
		t.Fatalf("migrate is not a one-shot of migrate up: %q restart %q", entry("migrate"), m.Restart)
	}
	for _, s := range []string{"api1", "api2", "worker"} {
		if c.Services[s].DependsOn["migrate"].Condition != "service_completed_successfully" {
			t.Errorf("%s does not wait for the migrations: %+v", s, c.Services[s].DependsOn)
		}
		if c.Services[s].Image != c.Services["migrate"].Image {
			t.Errorf("%s runs image %q, the migrations %q", s, c.Services[s].Image, c.Services["migrate"].Image)
		}
	}
	for s, want := range map[string]string{"api1": "/usr/local/bin/api", "api2": "/usr/local/bin/api", "worker": "/usr/local/bin/worker"} {
		if entry(s) != want {
			t.Errorf("%s runs %q, want %q", s, entry(s), want)
		}
	}
	for _, s := range []string{"api1", "api2"} {
		if c.Services[s].Environment["APP_QUEUE__WORKER"] != "false" {
			t.Errorf("%s runs jobs: the worker should", s)
		}
	}

	checked := 0
	for _, s := range []string{"migrate", "api1", "api2", "worker"} {
		var environ []string
		for k, v := range c.Services[s].Environment {
			if !strings.HasPrefix(k, "APP_") {
				t.Errorf("%s: %s is not an apex variable", s, k)
			}
			v = interpolation.ReplaceAllStringFunc(v, func(m string) string {
				if sub := interpolation.FindStringSubmatch(m); strings.Contains(m, ":-") {
					return sub[2]
				}
				return "a-value-of-at-least-32-bytes-for-a-secret"
			})
			environ = append(environ, k+"="+v)
			checked++
		}
		loaded, err := app.Load(app.LoadParams{Dir: t.TempDir(), DotEnv: "-", Environ: environ})
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		for name, def := range sections {
			if ps := app.DecodeSection(loaded.Config, name, def()); len(ps) > 0 {
				t.Errorf("%s: %v", s, ps)
			}
		}
		for _, kv := range environ {
			k, _, _ := strings.Cut(kv, "=")
			if k == "APP_ENV" {
				continue
			}
			key := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, "APP_"), "__", "."))
			if sec, _, _ := strings.Cut(key, "."); sections[sec] == nil {
				t.Errorf("%s: %s is in section %q, which no module of the tracker reads", s, k, sec)
			}
			if app.EnvName(key) != k {
				t.Errorf("%s: %s is not the variable of %s", s, k, key)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d variables checked", checked)
	}
}
