package auth

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
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

// UnmarshalJSON decodes b into c, matching claim names exactly.
func (c *claims) UnmarshalJSON(b []byte) error {
	*c = claims{}
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
