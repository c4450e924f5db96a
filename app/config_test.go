package app_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apexgo/apex/app"
)

type tlsConfig struct {
	Enabled bool   `koanf:"enabled"`
	Cert    string `koanf:"cert" validate:"required_if=Enabled true"`
}

type sample struct {
	Addr    string        `koanf:"addr" validate:"required,listen_addr"`
	Timeout time.Duration `koanf:"timeout" validate:"gt=0"`
	Origins []string      `koanf:"origins"`
	Token   app.Secret    `koanf:"token"`
	Workers int           `koanf:"workers" validate:"min=1,max=64"`
	TLS     tlsConfig     `koanf:"tls"`
}

func defaults() sample { return sample{Addr: ":8080", Timeout: time.Second, Workers: 4} }

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadLayering(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "default.yaml", "svc:\n  addr: \":1000\"\n  timeout: 2s\n  workers: 2\n  origins: [a]\n")
	write(t, dir, "staging.yaml", "svc:\n  addr: \":2000\"\n")
	write(t, dir, ".env", "APP_SVC__WORKERS=3\nAPP_SVC__TOKEN=from-dotenv\nAPP_ENV=staging\n")

	l, err := app.Load(app.LoadParams{
		Dir:     dir,
		DotEnv:  filepath.Join(dir, ".env"),
		Environ: []string{"APP_SVC__TIMEOUT=3s", "APP_SVC__ORIGINS=x,y", "HOME=/root"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if l.Env != "staging" {
		t.Fatalf("env from .env: got %q", l.Env)
	}
	got := defaults()
	if err := l.Unmarshal("svc", &got); err != nil {
		t.Fatal(err)
	}
	if got.Addr != ":2000" || got.Timeout != 3*time.Second || got.Workers != 3 || got.Token.Reveal() != "from-dotenv" {
		t.Fatalf("layering: %+v", got)
	}
	if strings.Join(got.Origins, "|") != "x|y" {
		t.Fatalf("list from env: %q", got.Origins)
	}
}

func TestLoadMissingFilesKeepDefaults(t *testing.T) {
	t.Parallel()
	l, err := app.Load(app.LoadParams{Dir: t.TempDir(), DotEnv: "-", Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if l.Env != app.Development {
		t.Fatalf("default env: %q", l.Env)
	}
	got := defaults()
	if err := l.Unmarshal("svc", &got); err != nil {
		t.Fatal(err)
	}
	if got.Addr != ":8080" || got.Workers != 4 {
		t.Fatalf("defaults lost: %+v", got)
	}
}

func TestLoadConfigDirFromEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "test.yaml", "svc:\n  workers: 9\n")
	l, err := app.Load(app.LoadParams{DotEnv: "-", Environ: []string{"APP_CONFIG_DIR=" + dir, "APP_ENV=test"}})
	if err != nil {
		t.Fatal(err)
	}
	got := defaults()
	if err := l.Unmarshal("svc", &got); err != nil || got.Workers != 9 {
		t.Fatalf("APP_CONFIG_DIR ignored: %+v %v", got, err)
	}
}

func TestLoadMalformedFileNamesFileAndLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, "default.yaml", "a: 1\nb: 2\nc: d: e\n")
	_, err := app.Load(app.LoadParams{Dir: dir, DotEnv: "-", Environ: []string{}})
	if err == nil {
		t.Fatal("malformed YAML loaded")
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, "default.yaml")) || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("error should name file and line: %v", err)
	}
}

func TestLoadMalformedDotEnvHidesValues(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, ".env", "APP_A=1\nAPP_DB__PASSWORD='hunter2-SECRET\n")
	_, err := app.Load(app.LoadParams{Dir: dir, DotEnv: filepath.Join(dir, ".env"), Environ: []string{}})
	if err == nil || !strings.Contains(err.Error(), ".env") || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("want an error naming .env and line 2, got %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error shows a value: %v", err)
	}
}

func TestLoadRejectsBadEnvName(t *testing.T) {
	t.Parallel()
	_, err := app.Load(app.LoadParams{DotEnv: "-", Environ: []string{"APP_ENV=../etc"}})
	if !errors.Is(err, app.ErrInvalidConfig) {
		t.Fatalf("want ErrInvalidConfig, got %v", err)
	}
}

func TestDecodeSectionReportsEveryProblem(t *testing.T) {
	t.Parallel()
	c := app.Static(map[string]any{
		"svc.addr":        "nope",
		"svc.timeout":     "soon",
		"svc.workers":     "0",
		"svc.tls.enabled": true,
		"svc.adress":      "typo",
		"svc.token":       "s3cr3t-value",
	})
	got := defaults()
	problems := app.DecodeSection(c, "svc", &got)
	keys := map[string]string{}
	for _, p := range problems {
		keys[p.Key] = p.Message
		if strings.Contains(p.Message, "s3cr3t") {
			t.Fatalf("secret in message %q", p.Message)
		}
	}
	// Decoding and validation problems come together.
	for _, k := range []string{"svc.timeout", "svc.adress", "svc.addr", "svc.workers", "svc.tls.cert"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("missing problem for %s in %v", k, problems)
		}
	}

	c = app.Static(map[string]any{"svc.addr": "nope", "svc.workers": 0, "svc.tls.enabled": true})
	got = defaults()
	problems = app.DecodeSection(c, "svc", &got)
	keys = map[string]string{}
	for _, p := range problems {
		keys[p.Key] = p.Message
	}
	for _, k := range []string{"svc.addr", "svc.workers", "svc.tls.cert"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("missing problem for %s in %v", k, problems)
		}
	}
	err := &app.ConfigError{Problems: problems}
	if !strings.Contains(err.Error(), "APP_SVC__TLS__CERT") {
		t.Errorf("error should name env variables: %v", err)
	}
}

func TestSectionMustBeMap(t *testing.T) {
	t.Parallel()
	got := defaults()
	err := app.Static(map[string]any{"svc": "x"}).Unmarshal("svc", &got)
	if !errors.Is(err, app.ErrInvalidConfig) {
		t.Fatalf("got %v", err)
	}
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"http.addr":                  "APP_HTTP__ADDR",
		"http.cors.allow_origins[2]": "APP_HTTP__CORS__ALLOW_ORIGINS",
	} {
		if got := app.EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
	}
}
