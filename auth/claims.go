package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// claims is the JWT claim set: the registered claims, roles, tenant and
// custom claims at the top level. It is decoded with encoding/json, claim
// names matched exactly: "Sub" or "EXP" is a custom claim, never the
// subject or the expiry (encoding/json's struct decoding would match it
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
	// mapFirst, set before decoding, has UnmarshalJSON skip the decode of
	// known claims only and go to decodeAll (see JWT.custom).
	mapFirst bool
	// dates backs what the getters return: exp, nbf, iat.
	dates [3]jwt.NumericDate
}

var _ jwt.Claims = (*claims)(nil)

// The validator's getters return dates held in c (one allocation fewer
// each per verification).
func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) {
	return dateIn(&c.dates[0], c.ExpiresAt), nil
}
func (c *claims) GetNotBefore() (*jwt.NumericDate, error) {
	return dateIn(&c.dates[1], c.NotBefore), nil
}
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error) {
	return dateIn(&c.dates[2], c.IssuedAt), nil
}

func (c *claims) GetIssuer() (string, error)             { return c.Issuer, nil }
func (c *claims) GetSubject() (string, error)            { return c.Subject, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error) { return jwt.ClaimStrings(c.Audience), nil }

func seconds(t time.Time) *float64 {
	f := float64(t.Unix())
	return &f
}

// millis is t as a NumericDate to the millisecond (RFC 7519 allows a
// fraction): "iat", so that a subject's "not before"
// (RevokeParams.EverySessionOf) tells a token issued just before it from
// one issued just after.
func millis(t time.Time) *float64 {
	f := float64(t.UnixMilli()) / 1000
	return &f
}

// exactTime is f to the millisecond, without date's truncation.
func exactTime(f *float64) time.Time {
	if f == nil {
		return time.Time{}
	}
	return time.UnixMilli(int64(math.Round(*f * 1000)))
}

// dateIn sets *d to f as a NumericDate (truncated to jwt.TimePrecision)
// and returns d, or nil when f is.
func dateIn(d *jwt.NumericDate, f *float64) *jwt.NumericDate {
	if f == nil {
		return nil
	}
	d.Time = toTime(f)
	return d
}

func toTime(f *float64) time.Time {
	if f == nil {
		return time.Time{}
	}
	sec, frac := math.Modf(*f)
	return time.Unix(int64(sec), int64(frac*1e9)).Truncate(jwt.TimePrecision)
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

// UnmarshalJSON decodes b into c, matching claim names exactly. A claim
// set of known claims only (what apex issues without custom claims) is
// decoded into [knownOnly]; any other (a custom claim, a known claim's
// name in another case, anything that decode refuses) is decoded by
// [claims.decodeAll], whose result stands. With c.mapFirst, decodeAll
// alone.
func (c *claims) UnmarshalJSON(b []byte) error {
	if !c.mapFirst && c.decodeKnown(b) {
		return nil
	}
	return c.decodeAll(b)
}

// knownOnly is a claim set of known claims only, for encoding/json's
// struct decode with unknown fields refused. That decode matches a key
// to a field's name exactly and otherwise to the first field whose name
// matches in another case: the case-variant fields, declared first, take
// "Sub", "SUB" or "sUb", so no such key reaches a known claim. Strings are
// pointers so that null, as in decodeAll, leaves a claim absent even after
// an earlier duplicate key set it.
type knownOnly struct {
	Iss    caseVariant `json:"ISS"`
	Sub    caseVariant `json:"SUB"`
	Aud    caseVariant `json:"AUD"`
	Exp    caseVariant `json:"EXP"`
	Nbf    caseVariant `json:"NBF"`
	Iat    caseVariant `json:"IAT"`
	Jti    caseVariant `json:"JTI"`
	Roles  caseVariant `json:"ROLES"`
	Tenant caseVariant `json:"TENANT"`

	Issuer    *string       `json:"iss"`
	Subject   *string       `json:"sub"`
	Audience  audience      `json:"aud"`
	ExpiresAt *float64      `json:"exp"`
	NotBefore *float64      `json:"nbf"`
	IssuedAt  *float64      `json:"iat"`
	ID        *string       `json:"jti"`
	RoleNames strictStrings `json:"roles"`
	TenantID  *string       `json:"tenant"`
}

// caseVariant is set when a known claim's name in another case is in the
// claim set (null included).
type caseVariant bool

func (v *caseVariant) UnmarshalJSON([]byte) error {
	*v = true
	return nil
}

// decodeKnown decodes b into c when b has known claims only, each of its
// type, and reports whether it did. Its result is decodeAll's: it
// declines (false) whatever decodeAll would read differently, such as an
// array element null (decoded "" here) or "".
func (c *claims) decodeKnown(b []byte) bool {
	var k knownOnly
	d := knownDecoders.Get().(*knownDecoder)
	d.r.Reset(b)
	if err := d.d.Decode(&k); err != nil {
		return false // d is dropped: a decoder that failed is not reused
	}
	// Decode reads one value. What follows it (buffered by the decoder,
	// or not read yet) would be handed to the next claim set: a decoder
	// with anything left is dropped, and anything but white space is for
	// decodeAll to refuse (json.Unmarshal, as golang-jwt's parse did).
	if buf, ok := d.d.Buffered().(*bytes.Reader); !ok || buf.Len() != 0 || d.r.Len() != 0 {
		rest, _ := io.ReadAll(io.MultiReader(d.d.Buffered(), &d.r))
		if len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
			return false
		}
	} else {
		knownDecoders.Put(d)
	}
	if bool(k.Iss || k.Sub || k.Aud || k.Exp || k.Nbf || k.Iat || k.Jti || k.Roles || k.Tenant) ||
		slices.Contains(k.RoleNames, "") || slices.Contains(k.Audience, "") ||
		!inRange(k.ExpiresAt) || !inRange(k.NotBefore) || !inRange(k.IssuedAt) {
		return false
	}
	*c = claims{
		Issuer: deref(k.Issuer), Subject: deref(k.Subject), Audience: k.Audience, ExpiresAt: k.ExpiresAt,
		NotBefore: k.NotBefore, IssuedAt: k.IssuedAt, ID: deref(k.ID), Roles: k.RoleNames, Tenant: deref(k.TenantID),
	}
	return true
}

// knownDecoder is a json.Decoder refusing unknown fields, reading a
// stream of claim sets (one per Decode) from r, which is reset to the
// next claim set before each: pooled, it saves a decoder and its buffer
// per verification.
type knownDecoder struct {
	r bytes.Reader
	d *json.Decoder
}

var knownDecoders = sync.Pool{New: func() any {
	k := &knownDecoder{}
	k.d = json.NewDecoder(&k.r)
	k.d.DisallowUnknownFields()
	return k
}}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// decodeAll decodes b into c, matching claim names exactly: one
// encoding/json pass into a map, then each known claim checked for its
// type (null is as if absent); the rest are the custom claims.
func (c *claims) decodeAll(b []byte) error {
	*c = claims{}
	var all map[string]any
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	for k, v := range all {
		if v == nil && knownClaims[k] {
			continue
		}
		var ok bool
		switch k {
		case "iss":
			c.Issuer, ok = v.(string)
		case "sub":
			c.Subject, ok = v.(string)
		case "jti":
			c.ID, ok = v.(string)
		case "tenant":
			c.Tenant, ok = v.(string)
		case "exp":
			c.ExpiresAt, ok = date(v)
		case "nbf":
			c.NotBefore, ok = date(v)
		case "iat":
			c.IssuedAt, ok = date(v)
		case "roles":
			c.Roles, ok = stringsOf(v)
		case "aud":
			if s, isString := v.(string); isString {
				c.Audience, ok = audience{s}, true
			} else {
				c.Audience, ok = stringsOf(v)
			}
		default:
			if c.extra == nil {
				c.extra = make(map[string]any, len(all))
			}
			c.extra[k] = v
			continue
		}
		if _, isNumber := v.(float64); !ok && isNumber && (k == "exp" || k == "nbf" || k == "iat") {
			return fmt.Errorf("claim %q: a date outside years 1 to 9999", k)
		}
		if !ok {
			return fmt.Errorf("claim %q: unexpected JSON type %T", k, v)
		}
	}
	return nil
}

// date is v as a NumericDate, when it is a number within [inRange].
func date(v any) (*float64, bool) {
	f, ok := v.(float64)
	return &f, ok && inRange(&f)
}

// inRange reports whether a NumericDate (nil: absent) is within years 1
// to 9999, as time.Time and RFC 3339 write them. Beyond int64 seconds,
// Go's conversion of a float to int64 is implementation-defined (amd64
// makes 1e300 the least int64, the distant past, so that "nbf":1e300
// read as valid now), and time.Time overflows short of that: such a date
// is malformed, not whatever the platform makes of it.
func inRange(f *float64) bool {
	const first, end = -62135596800, 253402300800 // 0001-01-01, 10000-01-01
	return f == nil || (*f >= first && *f < end)
}

func stringsOf(v any) ([]string, bool) {
	a, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(a))
	for i, x := range a {
		if out[i], ok = x.(string); !ok {
			return nil, false
		}
	}
	return out, true
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

// audience is "aud": a string or an array of strings.
type audience []string

// UnmarshalJSON is for [knownOnly]; null leaves a nil audience.
func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		*a = audience{""}
		return json.Unmarshal(b, &(*a)[0])
	}
	return (*strictStrings)(a).UnmarshalJSON(b)
}

// strictStrings is an array of strings decoded afresh every time (a
// duplicate key must not fill in the previous array's elements, as
// encoding/json does for a slice it reuses). A null element decodes as
// "", which decodeKnown declines, so that the map decode answers (and
// refuses it).
type strictStrings []string

// UnmarshalJSON implements json.Unmarshaler; null leaves nil.
func (s *strictStrings) UnmarshalJSON(b []byte) error {
	var out []string // fresh, never the previous array
	if err := json.Unmarshal(b, &out); err != nil {
		return err
	}
	*s = out
	return nil
}
