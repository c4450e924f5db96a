package auth

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// claims is the JWT claim set: the registered claims, roles, tenant and
// custom claims at the top level.
//
// Decoding is the hot path of Verify. UnmarshalJSON reads the usual shape
// (known claims as strings, numbers and string arrays, custom claims of
// any shape) with a small scanner, and falls back to slowDecode for
// anything else (escapes in strings, invalid UTF-8, null, a known claim of
// another type); FuzzClaimsDecode checks the two agree. Both match claim
// names exactly: "Sub" or "EXP" is a custom claim, never the subject or
// the expiry (encoding/json's struct decoding would match it
// case-insensitively, the last one winning).
type claims struct {
	Issuer    string   `json:"iss,omitempty"`
	Subject   string   `json:"sub,omitempty"`
	Audience  audience `json:"aud,omitempty"`
	ExpiresAt *float64 `json:"exp,omitempty"`
	NotBefore *float64 `json:"nbf,omitempty"`
	IssuedAt  *float64 `json:"iat,omitempty"`
	ID        string   `json:"jti,omitempty"`
	Roles     []string `json:"roles,omitempty"`
	Tenant    string   `json:"tenant,omitempty"`
	extra     map[string]any
}

var _ jwt.Claims = (*claims)(nil)

func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) { return date(c.ExpiresAt), nil }
func (c *claims) GetNotBefore() (*jwt.NumericDate, error)      { return date(c.NotBefore), nil }
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error)       { return date(c.IssuedAt), nil }
func (c *claims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *claims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)       { return jwt.ClaimStrings(c.Audience), nil }

func seconds(t time.Time) *float64 {
	f := float64(t.Unix())
	return &f
}

func date(f *float64) *jwt.NumericDate {
	if f == nil {
		return nil
	}
	sec, frac := math.Modf(*f)
	return &jwt.NumericDate{Time: time.Unix(int64(sec), int64(frac*1e9)).Truncate(jwt.TimePrecision)}
}

func toTime(f *float64) time.Time {
	if d := date(f); d != nil {
		return d.Time
	}
	return time.Time{}
}

// claimFields is claims without methods, for encoding/json.
type claimFields claims

func (c *claims) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal((*claimFields)(c))
	if err != nil || len(c.extra) == 0 {
		return b, err
	}
	x, err := json.Marshal(c.extra)
	if err != nil {
		return nil, err
	}
	b = append(b[:len(b)-1], ',')
	return append(b, x[1:]...), nil
}

func (c *claims) UnmarshalJSON(b []byte) error {
	if c.fastDecode(b) {
		return nil
	}
	*c = claims{}
	return c.slowDecode(b)
}

// slowDecode is encoding/json's reading of b, with claim names matched
// exactly.
func (c *claims) slowDecode(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for k, v := range raw {
		var err error
		switch k {
		case "iss":
			err = json.Unmarshal(v, &c.Issuer)
		case "sub":
			err = json.Unmarshal(v, &c.Subject)
		case "aud":
			err = json.Unmarshal(v, &c.Audience)
		case "exp":
			err = json.Unmarshal(v, &c.ExpiresAt)
		case "nbf":
			err = json.Unmarshal(v, &c.NotBefore)
		case "iat":
			err = json.Unmarshal(v, &c.IssuedAt)
		case "jti":
			err = json.Unmarshal(v, &c.ID)
		case "roles":
			err = json.Unmarshal(v, &c.Roles)
		case "tenant":
			err = json.Unmarshal(v, &c.Tenant)
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("claim %q: %w", k, err)
		}
	}
	return c.decodeExtra(raw)
}

// decodeExtra fills c.extra with the top-level claims of raw that are not
// known claims.
func (c *claims) decodeExtra(raw map[string]json.RawMessage) error {
	for k, v := range raw {
		if knownClaims[k] {
			continue
		}
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return fmt.Errorf("claim %q: %w", k, err)
		}
		if c.extra == nil {
			c.extra = make(map[string]any, len(raw))
		}
		c.extra[k] = x
	}
	return nil
}

// knownClaims are decoded into [claims]; Principal.Claims cannot use them
// (in any case: see reservedClaim).
var knownClaims = map[string]bool{"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true, "roles": true, "tenant": true}

// reservedClaim reports whether a custom claim named k is refused: a known
// claim's name in any case.
func reservedClaim(k string) bool {
	for known := range knownClaims {
		if strings.EqualFold(k, known) {
			return true
		}
	}
	return false
}

// fastDecode decodes the usual shape of b (a valid JSON object) into c and
// reports whether it could; on false, c is to be reset and decoded slowly.
func (c *claims) fastDecode(b []byte) bool {
	s := scanner{b: b}
	s.ws()
	if !s.eat('{') {
		return false
	}
	extra := false
	for {
		s.ws()
		if s.eat('}') {
			break
		}
		key, ok := s.raw()
		if !ok {
			return false
		}
		s.ws()
		if !s.eat(':') {
			return false
		}
		s.ws()
		switch string(key) { // no allocation: the compiler compares the bytes
		case "iss":
			c.Issuer, ok = s.str()
		case "sub":
			c.Subject, ok = s.str()
		case "jti":
			c.ID, ok = s.str()
		case "tenant":
			c.Tenant, ok = s.str()
		case "exp":
			c.ExpiresAt, ok = s.num()
		case "nbf":
			c.NotBefore, ok = s.num()
		case "iat":
			c.IssuedAt, ok = s.num()
		case "roles":
			c.Roles, ok = s.strs()
		case "aud":
			if s.peek() == '[' {
				var a []string
				a, ok = s.strs()
				c.Audience = a
			} else {
				var a string
				a, ok = s.str()
				c.Audience = audience{a}
			}
		default:
			extra = true
			ok = s.skip()
		}
		if !ok {
			return false
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			break
		}
		return false
	}
	s.ws()
	if s.i != len(b) {
		return false
	}
	if extra {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return false
		}
		return c.decodeExtra(raw) == nil
	}
	return true
}

// scanner reads the JSON of one claim set.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) eat(ch byte) bool {
	if s.peek() == ch {
		s.i++
		return true
	}
	return false
}

// str reads a string without escapes, of valid UTF-8.
func (s *scanner) str() (string, bool) {
	v, ok := s.raw()
	return string(v), ok
}

// raw is str without the copy: the string's bytes within b.
func (s *scanner) raw() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch ch := s.b[s.i]; {
		case ch == '"':
			v := s.b[start:s.i]
			s.i++
			return v, utf8.Valid(v)
		case ch == '\\' || ch < 0x20:
			return nil, false
		}
	}
	return nil, false
}

func (s *scanner) num() (*float64, bool) {
	start := s.i
	for s.i < len(s.b) && strings.IndexByte("+-0123456789.eE", s.b[s.i]) >= 0 {
		s.i++
	}
	if s.i == start {
		return nil, false
	}
	f, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
	if err != nil {
		return nil, false
	}
	return &f, true
}

// strs reads an array of strings.
func (s *scanner) strs() ([]string, bool) {
	if !s.eat('[') {
		return nil, false
	}
	out := []string{}
	s.ws()
	if s.eat(']') {
		return out, true
	}
	for {
		s.ws()
		v, ok := s.str()
		if !ok {
			return nil, false
		}
		out = append(out, v)
		s.ws()
		if s.eat(']') {
			return out, true
		}
		if !s.eat(',') {
			return nil, false
		}
	}
}

// skip passes over one value of any kind, stopping before the comma or
// brace that ends it.
func (s *scanner) skip() bool {
	depth := 0
	for s.i < len(s.b) {
		switch ch := s.b[s.i]; ch {
		case '"':
			for s.i++; s.i < len(s.b) && s.b[s.i] != '"'; s.i++ {
				if s.b[s.i] == '\\' {
					s.i++
				}
			}
			s.i++
		case '{', '[':
			depth++
			s.i++
		case '}', ']':
			if depth == 0 {
				return true
			}
			depth--
			s.i++
		case ',':
			if depth == 0 {
				return true
			}
			s.i++
		default:
			s.i++
		}
	}
	return depth == 0
}

// audience is "aud": a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(raw []byte) error {
	if string(raw) == "null" {
		*a = nil
		return nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(raw, &ss); err != nil {
		return err
	}
	*a = ss
	return nil
}
