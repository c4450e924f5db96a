package app

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Redacted is what a [Secret] prints in place of its value.
const Redacted = "[REDACTED]"

// Secret holds a string that never prints: fmt verbs, JSON and text
// encoding, slog and zap fields all show [Redacted]. [Secret.Reveal] is the
// only way to read the value. The zero Secret is empty and prints as "".
//
// Config structs declare passwords, DSNs, tokens and webhook URLs as Secret;
// the config loader decodes a string into it. The value is held by a
// closure, which fmt prints as an address whatever the verb, even inside a
// struct's unexported field where it cannot call String. As a consequence
// a Secret, and a struct holding one, is not comparable with ==.
type Secret struct{ get func() string }

// NewSecret wraps a value, for code that builds config by hand.
func NewSecret(v string) Secret { return Secret{get: func() string { return v }} }

// Reveal returns the secret's value. Call it only where the value is used
// (a driver's DSN, an Authorization header), never to log it.
func (s Secret) Reveal() string {
	if s.get == nil {
		return ""
	}
	return s.get()
}

// IsSet reports whether the secret has a non-empty value.
func (s Secret) IsSet() bool { return s.Reveal() != "" }

func (s Secret) redacted() string {
	if !s.IsSet() {
		return ""
	}
	return Redacted
}

// String implements fmt.Stringer; zap.Any and zap.Stringer use it.
func (s Secret) String() string { return s.redacted() }

// GoString implements fmt.GoStringer, for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("app.Secret(%q)", s.redacted()) }

// Format implements fmt.Formatter so that every verb prints the redacted form.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = fmt.Fprint(f, s.GoString())
	case verb == 'q':
		_, _ = fmt.Fprintf(f, "%q", s.redacted())
	default:
		_, _ = fmt.Fprint(f, s.redacted())
	}
}

// MarshalJSON implements json.Marshaler; zap.Reflect uses it.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.redacted()) }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redacted()), nil }

// UnmarshalText implements encoding.TextUnmarshaler: config decoding and
// encoding/json fill a Secret from a plain string.
func (s *Secret) UnmarshalText(b []byte) error {
	*s = NewSecret(string(b))
	return nil
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.redacted()) }
