package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/dotenv"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// Environment variables read by [Load] itself rather than mapped to keys.
const (
	// EnvPrefix starts every environment variable that sets a config key.
	EnvPrefix = "APP_"
	// EnvVar selects the environment and so the config/$APP_ENV.yaml file.
	EnvVar = "APP_ENV"
	// ConfigDirVar moves the config directory (default "config").
	ConfigDirVar = "APP_CONFIG_DIR"
)

// LoadParams says where [Load] reads from. The zero value reads the process
// environment, ./config and ./.env.
type LoadParams struct {
	// Dir holds default.yaml and <env>.yaml. Default: $APP_CONFIG_DIR, else "config".
	Dir string
	// Env is the environment name. Default: $APP_ENV, else "development".
	Env string
	// DotEnv is the .env file. Default ".env"; "-" reads none.
	DotEnv string
	// Environ is the environment as KEY=value pairs. Default: os.Environ().
	Environ []string
	// Overrides are dotted keys applied after every other layer (tests).
	Overrides map[string]any
}

// Loaded is a [Config] read by [Load], with the environment it chose.
type Loaded struct {
	Config
	// Env is the resolved environment name.
	Env string
}

var envNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// Load reads the configuration layers in order: config/default.yaml,
// config/$APP_ENV.yaml, .env, APP_* environment variables, then
// p.Overrides. Missing files are skipped; a malformed file is an error
// naming the file and, for YAML, the line.
func Load(p LoadParams) (*Loaded, error) {
	environ := p.Environ
	if environ == nil {
		environ = os.Environ()
	}
	envMap := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			envMap[k] = v
		}
	}

	dotPath := p.DotEnv
	if dotPath == "" {
		dotPath = ".env"
	}
	var dot map[string]string
	if dotPath != "-" {
		var err error
		if dot, err = readDotEnv(dotPath); err != nil {
			return nil, err
		}
	}
	lookup := func(k string) string {
		if v, ok := envMap[k]; ok {
			return v
		}
		return dot[k]
	}

	envName := p.Env
	if envName == "" {
		envName = lookup(EnvVar)
	}
	if envName == "" {
		envName = Development
	}
	if !envNameRE.MatchString(envName) {
		return nil, &ConfigError{Problems: []Problem{{Key: "env", Message: "APP_ENV must be a lower-case name such as development, test or production"}}}
	}
	dir := p.Dir
	if dir == "" {
		dir = lookup(ConfigDirVar)
	}
	if dir == "" {
		dir = "config"
	}

	k := koanf.New(".")
	for _, name := range []string{"default.yaml", envName + ".yaml"} {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	if len(dot) > 0 {
		m := make(map[string]any, len(dot))
		for key, v := range dot {
			if ck, ok := envKey(key); ok {
				m[ck] = v
			}
		}
		if err := k.Load(confmap.Provider(m, "."), nil); err != nil {
			return nil, fmt.Errorf("config file %s: %w", dotPath, err)
		}
	}
	envProvider := env.Provider(".", env.Opt{
		Prefix:      EnvPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(key, v string) (string, any) {
			ck, ok := envKey(key)
			if !ok {
				return "", nil
			}
			return ck, v
		},
	})
	if err := k.Load(envProvider, nil); err != nil {
		return nil, fmt.Errorf("environment: %w", err)
	}
	if len(p.Overrides) > 0 {
		if err := k.Load(confmap.Provider(p.Overrides, "."), nil); err != nil {
			return nil, fmt.Errorf("overrides: %w", err)
		}
	}
	return &Loaded{Config: &koanfConfig{k: k}, Env: envName}, nil
}

// Static returns a Config holding values, with dotted or nested keys. An
// empty map is the built-in-defaults fallback: every section keeps its
// defaults.
func Static(values map[string]any) Config {
	k := koanf.New(".")
	// confmap.Provider never fails to read a map.
	_ = k.Load(confmap.Provider(values, "."), nil)
	return &koanfConfig{k: k}
}

// envKey maps APP_HTTP__READ_TIMEOUT to http.read_timeout. APP_ENV and
// APP_CONFIG_DIR, and names without a key, map to nothing.
func envKey(name string) (string, bool) {
	if !strings.HasPrefix(name, EnvPrefix) || name == EnvVar || name == ConfigDirVar {
		return "", false
	}
	key := strings.ToLower(strings.TrimPrefix(name, EnvPrefix))
	key = strings.ReplaceAll(key, "__", ".")
	if key == "" || strings.HasPrefix(key, ".") || strings.HasSuffix(key, ".") || strings.Contains(key, "..") {
		return "", false
	}
	return key, true
}

func readDotEnv(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	m, err := dotenv.Parser().Unmarshal(b)
	if err != nil {
		// The parser quotes the file's text, which holds secrets: report
		// only where it broke.
		return nil, fmt.Errorf("config file %s: malformed at or after line %d (an unterminated quote or a line that is not KEY=value); values are not shown", path, badDotEnvLine(b))
	}
	out := make(map[string]string, len(m))
	for key, v := range m {
		out[key] = fmt.Sprint(v)
	}
	return out, nil
}

// badDotEnvLine finds the first line that does not parse on its own, or
// the last line when only the whole file fails (a quote left open).
func badDotEnvLine(b []byte) int {
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if _, err := dotenv.Parser().Unmarshal([]byte(l)); err != nil {
			return i + 1
		}
	}
	return len(lines)
}

type koanfConfig struct{ k *koanf.Koanf }

// Sections lists the top-level keys that are set, for the check that every
// one belongs to a declared section.
func (c *koanfConfig) Sections() []string {
	var out []string
	for k := range c.k.Raw() {
		out = append(out, k)
	}
	return out
}

func (c *koanfConfig) Unmarshal(key string, out any) error {
	if !c.k.Exists(key) {
		return nil
	}
	raw := c.k.Get(key)
	if _, ok := raw.(map[string]any); !ok {
		return &ConfigError{Problems: []Problem{{Key: key, Message: "must be a section (a map of keys), not a single value"}}}
	}
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
			mapstructure.TextUnmarshallerHookFunc(),
		),
		WeaklyTypedInput: true,
		Result:           out,
		TagName:          "koanf",
	})
	if err != nil {
		return fmt.Errorf("config section %s: %w", key, err)
	}
	var problems []Problem
	rt := reflect.TypeOf(out).Elem()
	if err := dec.Decode(raw); err != nil {
		problems = append(problems, decodeProblems(key, rt, err)...)
	}
	var unknown []string
	unknownKeys(raw.(map[string]any), rt, "", &unknown)
	sort.Strings(unknown)
	for _, u := range unknown {
		problems = append(problems, Problem{Key: key + "." + u, Message: "unknown key (check its spelling)"})
	}
	if len(problems) > 0 {
		return &ConfigError{Problems: problems}
	}
	return nil
}

// decodeProblems turns mapstructure's wrapped and joined errors into one
// problem per key. Messages come from the field's type, not the error text,
// which would repeat the value.
func decodeProblems(section string, rt reflect.Type, err error) []Problem {
	var de *mapstructure.DecodeError
	switch e := err.(type) {
	case interface{ Unwrap() []error }:
		var out []Problem
		for _, inner := range e.Unwrap() {
			out = append(out, decodeProblems(section, rt, inner)...)
		}
		return out
	case *mapstructure.DecodeError:
		de = e
	case interface{ Unwrap() error }:
		return decodeProblems(section, rt, e.Unwrap())
	}
	if de == nil {
		return []Problem{{Key: section, Message: "cannot be decoded"}}
	}
	msg := "has a value of the wrong type"
	if ft := fieldType(rt, de.Name()); ft != nil {
		msg = "must be a " + typeWord(ft)
	}
	return []Problem{{Key: section + "." + de.Name(), Message: msg}}
}

// tagName is the koanf name of a struct field, "" to skip it, and whether
// it is squashed into its parent.
func tagName(f reflect.StructField) (name string, squash bool) {
	tag := f.Tag.Get("koanf")
	name, opts, _ := strings.Cut(tag, ",")
	if strings.Contains(opts, "squash") || (f.Anonymous && tag == "") {
		return "", true
	}
	if name == "-" || !f.IsExported() {
		return "", false
	}
	if name == "" {
		name = f.Name
	}
	return name, false
}

func structFields(t reflect.Type, yield func(name string, f reflect.StructField)) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, squash := tagName(f)
		if squash && f.Type.Kind() == reflect.Struct {
			structFields(f.Type, yield)
			continue
		}
		if name != "" {
			yield(name, f)
		}
	}
}

// fieldType finds the type of the field at a dotted path of koanf names.
func fieldType(t reflect.Type, path string) reflect.Type {
	for part := range strings.SplitSeq(path, ".") {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if i := strings.IndexByte(part, '['); i >= 0 {
			part = part[:i]
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		var next reflect.Type
		structFields(t, func(name string, f reflect.StructField) {
			if strings.EqualFold(name, part) {
				next = f.Type
			}
		})
		if next == nil {
			return nil
		}
		t = next
	}
	return t
}

// unknownKeys lists the keys of m that match no field of struct type t.
// Maps and interface fields accept any key.
func unknownKeys(m map[string]any, t reflect.Type, prefix string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeFor[Secret]() {
		return
	}
	fields := map[string]reflect.Type{}
	structFields(t, func(name string, f reflect.StructField) { fields[strings.ToLower(name)] = f.Type })
	for k, v := range m {
		ft, ok := fields[strings.ToLower(k)]
		if !ok {
			*out = append(*out, prefix+k)
			continue
		}
		if sub, ok := v.(map[string]any); ok {
			unknownKeys(sub, ft, prefix+k+".", out)
		}
	}
}

func typeWord(rt reflect.Type) string {
	switch t := rt.String(); t {
	case "time.Duration":
		return "duration such as 500ms, 5s or 1m"
	case "bool":
		return "boolean (true or false)"
	case "int", "int64", "int32", "uint", "uint64", "uint32":
		return "whole number"
	case "float64", "float32":
		return "number"
	}
	switch rt.Kind() {
	case reflect.Slice:
		return "list (YAML list, or comma-separated in the environment)"
	case reflect.Map, reflect.Struct:
		return "section (a map of keys)"
	}
	return "value of type " + rt.String()
}
