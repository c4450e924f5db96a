// Package app loads configuration and runs the lifecycle every apex module
// stands on.
//
// Configuration is layered, later layers winning: each section's built-in
// defaults, config/default.yaml, config/$APP_ENV.yaml, a .env file, then
// environment variables with the APP_ prefix and "__" between levels
// (APP_HTTP__ADDR sets http.addr). A module declares its section as a typed
// struct with [ProvideSection]; every section is decoded and validated
// before anything starts, and all problems are reported together.
package app

import (
	"errors"
	"fmt"
	"strings"
)

// Config is the configuration an app runs with: a tree of values addressed
// by dotted keys ("http.addr"). Replace it with fx.Decorate to read from
// another source; apptest.RunConfig checks an implementation.
type Config interface {
	// Unmarshal decodes the subtree at key into out, a pointer to a struct
	// whose fields carry `koanf:"name"` tags and already hold the
	// section's defaults: keys that are not set leave the defaults alone,
	// and an absent key leaves out untouched and is not an error. Strings
	// are converted to the field's type (numbers, booleans, durations such
	// as "5s", lists as "a,b", [Secret]). A key that matches no field, or a
	// value that cannot be converted, is an error wrapping
	// [ErrInvalidConfig] that names the key and never repeats the value.
	// It is safe for concurrent use.
	Unmarshal(key string, out any) error
}

// ErrInvalidConfig is wrapped by every configuration problem, for use with
// errors.Is. errors.As with *[ConfigError] lists the problems.
var ErrInvalidConfig = errors.New("invalid configuration")

// Problem is one invalid configuration value.
type Problem struct {
	// Key is the dotted config key ("http.addr").
	Key string
	// Message says what is wrong without repeating the value.
	Message string
}

// EnvName returns the environment variable that sets key:
// "http.read_timeout" → "APP_HTTP__READ_TIMEOUT".
// List indexes are dropped: "cors.allow_origins[1]" → "APP_CORS__ALLOW_ORIGINS".
func EnvName(key string) string {
	parts := strings.Split(key, ".")
	for i, p := range parts {
		if j := strings.IndexByte(p, '['); j >= 0 {
			parts[i] = p[:j]
		}
	}
	return EnvPrefix + strings.ToUpper(strings.Join(parts, "__"))
}

// ConfigError lists every invalid value found while loading configuration.
type ConfigError struct {
	// Problems are every invalid value found.
	Problems []Problem
}

// Error lists the problems one per line, each key with its environment
// variable.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidConfig.Error())
	fmt.Fprintf(&b, " (%d problem", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString(")")
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s (%s): %s", p.Key, EnvName(p.Key), p.Message)
	}
	return b.String()
}

// Is reports true for [ErrInvalidConfig].
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }
