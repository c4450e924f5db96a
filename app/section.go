package app

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"

	"github.com/go-playground/validator/v10"
	"go.uber.org/fx"

	"github.com/apexgo/apex/internal/validation"
)

// sectionGroup collects every declared section so that all are decoded and
// validated together, before the first constructor that needs one runs.
const sectionGroup = "apex.app.sections"

// Validator is implemented by config sections with rules that struct tags
// cannot express (one field relative to another).
type Validator interface {
	// Validate returns every problem found, nil when there is none, with
	// keys relative to the section ("write_timeout"). It is called once,
	// after the section is decoded and its tags are checked.
	Validate() []Problem
}

type sectionDecl struct {
	key    string
	typ    reflect.Type
	decode func(Config) (any, []Problem)
}

type sections struct {
	values  map[string]any
	unknown []string
}

// ConfigReport says what the loaded configuration holds that no module
// reads: top-level keys that are not a declared section, such as a
// misspelled APP_HTPP__ADDR or APP_OBSERVE_LOG_LEVEL (one underscore).
// They are not an error, since a platform may set APP_* variables of its
// own, but observe logs them at WARN.
type ConfigReport struct {
	// UnknownSections are the top-level config keys that no section
	// declared with [ProvideSection] reads, sorted.
	UnknownSections []string
}

func newReport(s *sections) ConfigReport { return ConfigReport{UnknownSections: s.unknown} }

type sectionsIn struct {
	fx.In
	Config Config
	Decls  []sectionDecl `group:"apex.app.sections"`
}

// getValidator is built once: go-playground's validator caches struct
// metadata and is safe for concurrent use.
var getValidator = sync.OnceValue(func() *validator.Validate { return validation.New("koanf") })

// ProvideSection declares the config section at key, a struct type T whose
// defaults come from defaults. It provides T to the container, decoded from
// the [Config] and validated with its `validate` tags and, if T implements
// [Validator], its Validate method. Every section declared in an app is
// checked before any of them is handed out, and all problems are returned
// together as a *[ConfigError], so a bad value stops the app before
// anything starts.
//
// Modules call it in their fx.Module; user code can declare its own
// sections the same way:
//
//	app.ProvideSection("users", users.DefaultConfig)
func ProvideSection[T any](key string, defaults func() T) fx.Option {
	decl := sectionDecl{
		key: key,
		typ: reflect.TypeFor[T](),
		decode: func(c Config) (any, []Problem) {
			v := defaults()
			return v, DecodeSection(c, key, &v)
		},
	}
	return fx.Options(
		fx.Provide(fx.Annotate(func() sectionDecl { return decl }, fx.ResultTags(`group:"`+sectionGroup+`"`))),
		fx.Provide(func(s *sections) T { return s.values[key].(T) }),
	)
}

// DecodeSection decodes the section at key into out (a pointer to a struct
// holding defaults) and validates it, returning every problem found. It is
// what [ProvideSection] runs, exported for code that builds a module's
// config without fx.
func DecodeSection(c Config, key string, out any) []Problem {
	var problems []Problem
	if err := c.Unmarshal(key, out); err != nil {
		var ce *ConfigError
		if !errors.As(err, &ce) {
			return []Problem{{Key: key, Message: err.Error()}}
		}
		problems = ce.Problems
	}
	// Validate even after decoding problems, so that one run reports
	// everything; a key that failed to decode is not reported twice.
	seen := make(map[string]bool, len(problems))
	for _, p := range problems {
		seen[p.Key] = true
	}
	add := func(p Problem) {
		if !seen[p.Key] {
			seen[p.Key] = true
			problems = append(problems, p)
		}
	}
	for _, f := range validation.Fields(getValidator().Struct(out)) {
		add(Problem{Key: key + "." + f.Path, Message: f.Message})
	}
	if v, ok := out.(Validator); ok {
		for _, p := range v.Validate() {
			p.Key = key + "." + p.Key
			add(p)
		}
	}
	return problems
}

func newSections(in sectionsIn) (*sections, error) {
	s := &sections{values: make(map[string]any, len(in.Decls))}
	seen := make(map[string]reflect.Type, len(in.Decls))
	var problems []Problem
	for _, d := range in.Decls {
		if t, ok := seen[d.key]; ok {
			return nil, fmt.Errorf("app: config section %q is declared twice (%v and %v)", d.key, t, d.typ)
		}
		seen[d.key] = d.typ
		v, ps := d.decode(in.Config)
		problems = append(problems, ps...)
		s.values[d.key] = v
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Key < problems[j].Key })
		return nil, &ConfigError{Problems: problems}
	}
	if lister, ok := in.Config.(interface{ Sections() []string }); ok {
		for _, k := range lister.Sections() {
			if _, declared := seen[k]; !declared {
				s.unknown = append(s.unknown, k)
			}
		}
		sort.Strings(s.unknown)
	}
	return s, nil
}
