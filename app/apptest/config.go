package apptest

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/app"
)

// NewConfigFunc builds the [app.Config] under test holding values: dotted
// keys with values written as a user would in the environment.
type NewConfigFunc func(t *testing.T, values map[string]string) app.Config

type suiteTLS struct {
	Enabled bool     `koanf:"enabled"`
	Ciphers []string `koanf:"ciphers"`
}

type suiteSection struct {
	Addr     string        `koanf:"addr"`
	Port     int           `koanf:"port"`
	Ratio    float64       `koanf:"ratio"`
	Debug    bool          `koanf:"debug"`
	Timeout  time.Duration `koanf:"timeout"`
	Password app.Secret    `koanf:"password"`
	TLS      suiteTLS      `koanf:"tls"`
}

func suiteDefaults() suiteSection {
	return suiteSection{Addr: "default-addr", Port: 1, Ratio: 0.5, Timeout: time.Second, TLS: suiteTLS{Ciphers: []string{"x"}}}
}

// RunConfig is the conformance suite of the [app.Config] port: decoding
// with defaults kept, type conversion from strings, nested sections,
// unknown keys and bad values reported with their key, concurrent use.
func RunConfig(t *testing.T, newConfig NewConfigFunc) {
	t.Run("AbsentSectionKeepsDefaults", func(t *testing.T) {
		t.Parallel()
		c := newConfig(t, map[string]string{"other.key": "v"})
		got := suiteDefaults()
		if err := c.Unmarshal("svc", &got); err != nil {
			t.Fatal(err)
		}
		if got.Addr != "default-addr" || got.Port != 1 || len(got.TLS.Ciphers) != 1 {
			t.Fatalf("defaults changed: %+v", got)
		}
	})

	t.Run("ConvertsStrings", func(t *testing.T) {
		t.Parallel()
		c := newConfig(t, map[string]string{
			"svc.port": "8080", "svc.ratio": "0.25", "svc.debug": "true", "svc.timeout": "1m30s",
			"svc.password": "pw", "svc.tls.enabled": "true", "svc.tls.ciphers": "a,b,c",
		})
		got := suiteDefaults()
		if err := c.Unmarshal("svc", &got); err != nil {
			t.Fatal(err)
		}
		want := suiteSection{Addr: "default-addr", Port: 8080, Ratio: 0.25, Debug: true, Timeout: 90 * time.Second,
			Password: app.NewSecret("pw"), TLS: suiteTLS{Enabled: true, Ciphers: []string{"a", "b", "c"}}}
		if got.Addr != want.Addr || got.Port != want.Port || got.Ratio != want.Ratio || got.Debug != want.Debug ||
			got.Timeout != want.Timeout || got.Password.Reveal() != "pw" || !got.TLS.Enabled ||
			strings.Join(got.TLS.Ciphers, ",") != "a,b,c" {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("NestedSectionByItself", func(t *testing.T) {
		t.Parallel()
		c := newConfig(t, map[string]string{"svc.tls.enabled": "true"})
		var tls suiteTLS
		if err := c.Unmarshal("svc.tls", &tls); err != nil || !tls.Enabled {
			t.Fatalf("%+v %v", tls, err)
		}
	})

	t.Run("UnknownKeyNamed", func(t *testing.T) {
		t.Parallel()
		c := newConfig(t, map[string]string{"svc.adress": "x", "svc.tls.cipher": "y"})
		got := suiteDefaults()
		err := c.Unmarshal("svc", &got)
		wantProblems(t, err, "svc.adress", "svc.tls.cipher")
	})

	t.Run("BadValueNamedWithoutEchoingIt", func(t *testing.T) {
		t.Parallel()
		c := newConfig(t, map[string]string{"svc.port": "eighty", "svc.timeout": "soon-ish", "svc.debug": "perhaps"})
		got := suiteDefaults()
		err := c.Unmarshal("svc", &got)
		wantProblems(t, err, "svc.port", "svc.timeout", "svc.debug")
		for _, v := range []string{"eighty", "soon-ish", "perhaps"} {
			if strings.Contains(err.Error(), v) {
				t.Fatalf("error repeats the value %q: %v", v, err)
			}
		}
	})

	t.Run("ConcurrentUse", func(t *testing.T) {
		t.Parallel()
		c := newConfig(t, map[string]string{"svc.port": "9"})
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				got := suiteDefaults()
				if err := c.Unmarshal("svc", &got); err != nil || got.Port != 9 {
					t.Errorf("%+v %v", got, err)
				}
			})
		}
		wg.Wait()
	})
}

func wantProblems(t *testing.T, err error, keys ...string) {
	t.Helper()
	if !errors.Is(err, app.ErrInvalidConfig) {
		t.Fatalf("want ErrInvalidConfig, got %v", err)
	}
	var ce *app.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("want *app.ConfigError, got %T", err)
	}
	have := map[string]bool{}
	for _, p := range ce.Problems {
		have[p.Key] = true
	}
	for _, k := range keys {
		if !have[k] {
			t.Errorf("no problem for %s in %v", k, ce.Problems)
		}
	}
}
