package auth_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/golang-jwt/jwt/v5"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/auth/memory"
)

var alice = auth.Principal{Subject: "alice", Roles: []string{"admin"}, Tenant: "acme", Claims: map[string]any{"plan": "pro", "n": 3.0}}

func TestIssueVerifyEveryAlgorithm(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"HS256", "RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			j := newJWT(t, testConfig(withAlg(alg)))
			p, err := j.Issue(t.Context(), alice)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if p.TokenType != "Bearer" || p.ExpiresIn != 900 || len(p.RefreshToken) != 64 {
				t.Fatalf("pair %+v: want Bearer, 900s and a 64-character refresh token", p)
			}
			id, err := j.Verify(t.Context(), p.AccessToken)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if id.Subject != "alice" || !id.HasRole("admin") || id.Tenant != "acme" || id.Claims["plan"] != "pro" || id.Claims["n"] != 3.0 {
				t.Fatalf("identity %+v does not carry the principal", id)
			}
			if id.TokenID == "" || time.Until(id.ExpiresAt) < 14*time.Minute || time.Since(id.IssuedAt) > time.Minute {
				t.Fatalf("identity %+v: want a jti, exp in 15m and iat now", id)
			}
			header := decodeSegment(t, p.AccessToken, 0)
			if header["alg"] != alg || header["kid"] != j.KeyID() || j.KeyID() == "" {
				t.Fatalf("header %v: want alg %s and kid %q", header, alg, j.KeyID())
			}
			claims := decodeSegment(t, p.AccessToken, 1)
			for _, c := range []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "roles", "tenant", "plan"} {
				if _, ok := claims[c]; !ok {
					t.Errorf("claim %s missing from %v", c, claims)
				}
			}
		})
	}
}

func decodeSegment(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIssueRefusesReservedClaims(t *testing.T) {
	t.Parallel()
	j := newJWT(t, testConfig())
	for _, c := range []string{"sub", "exp", "roles", "tenant", "jti"} {
		if _, err := j.Issue(t.Context(), auth.Principal{Subject: "a", Claims: map[string]any{c: "x"}}); err == nil {
			t.Errorf("Issue with custom claim %q succeeded", c)
		}
	}
	if _, err := j.Issue(t.Context(), auth.Principal{}); err == nil {
		t.Error("Issue without a subject succeeded")
	}
}

// Rotating keys: the old key moves to verify_keys, tokens it signed still
// verify; the new key signs.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	old := newJWT(t, testConfig())
	p, err := old.Issue(t.Context(), alice)
	if err != nil {
		t.Fatal(err)
	}
	rotated := newJWT(t, testConfig(withAlg("EdDSA"), func(c *auth.Config) {
		c.VerifyKeys = map[string]auth.VerifyKey{old.KeyID(): {Algorithm: "HS256", Secret: app.NewSecret(testSecret)}}
	}))
	if _, err := rotated.Verify(t.Context(), p.AccessToken); err != nil {
		t.Fatalf("a token of the previous key: %v", err)
	}
	p2, err := rotated.Issue(t.Context(), alice)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Verify(t.Context(), p2.AccessToken); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("the old config verifying a token of the new key: %v, want ErrInvalidToken", err)
	}
	// Once the old key is dropped, its tokens stop verifying.
	dropped := newJWT(t, testConfig(withAlg("EdDSA")))
	if _, err := dropped.Verify(t.Context(), p.AccessToken); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("after dropping the old key: %v, want ErrInvalidToken", err)
	}
}

func TestKeysFromFilesAndPublicKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "rsa.pem"), filepath.Join(dir, "rsa.pub")
	if err := os.WriteFile(priv, []byte(testKeys.rsaPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, []byte(testKeys.rsaPub1), 0o600); err != nil {
		t.Fatal(err)
	}
	signer := newJWT(t, testConfig(func(c *auth.Config) {
		c.Algorithm, c.Secret, c.PrivateKeyFile, c.KeyID = "RS256", app.Secret{}, priv, "k2026"
	}))
	p, err := signer.Issue(t.Context(), alice)
	if err != nil {
		t.Fatal(err)
	}
	// Another service holding only the public key verifies.
	verifier := newJWT(t, testConfig(func(c *auth.Config) {
		c.VerifyKeys = map[string]auth.VerifyKey{"k2026": {Algorithm: "RS256", PublicKeyFile: pub}}
	}))
	if _, err := verifier.Verify(t.Context(), p.AccessToken); err != nil {
		t.Fatalf("verify with the public key: %v", err)
	}
}

func TestBadKeyConfig(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		tweak  func(*auth.Config)
		random bool
		want   string
	}{
		"no secret":         {func(c *auth.Config) { c.Secret = app.Secret{} }, false, "auth.secret"},
		"short secret":      {func(c *auth.Config) { c.Secret = app.NewSecret("short") }, true, "auth.secret"},
		"RSA key for ES256": {func(c *auth.Config) { c.Algorithm, c.PrivateKey = "ES256", app.NewSecret(testKeys.rsaPEM) }, false, "auth.private_key"},
		"EC key for EdDSA":  {func(c *auth.Config) { c.Algorithm, c.PrivateKey = "EdDSA", app.NewSecret(testKeys.ecPEM) }, false, "auth.private_key"},
		"not PEM":           {func(c *auth.Config) { c.Algorithm, c.PrivateKey = "RS256", app.NewSecret("nope") }, false, "auth.private_key"},
		"missing file":      {func(c *auth.Config) { c.Algorithm, c.PrivateKeyFile = "RS256", "/nonexistent.pem" }, false, "auth.private_key_file"},
		"bad verify key": {func(c *auth.Config) {
			c.VerifyKeys = map[string]auth.VerifyKey{"old": {Algorithm: "EdDSA", PublicKey: testKeys.rsaPub}}
		}, false, "auth.verify_keys.old"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := auth.New(auth.Params{Config: testConfig(tc.tweak), RandomSecret: tc.random})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatalf("the error shows the key: %v", err)
			}
		})
	}
	// Development: a random secret, and tokens verify.
	j, err := auth.New(auth.Params{Config: testConfig(func(c *auth.Config) { c.Secret = app.Secret{} }), RandomSecret: true})
	if err != nil {
		t.Fatalf("random secret: %v", err)
	}
	p, _ := j.Issue(t.Context(), alice)
	if _, err := j.Verify(t.Context(), p.AccessToken); err != nil {
		t.Fatalf("random secret: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	c := auth.DefaultConfig()
	c.Secret = app.NewSecret("short")
	c.RefreshTTL = time.Minute
	c.VerifyKeys = map[string]auth.VerifyKey{"x": {Algorithm: "RS256"}}
	keys := map[string]bool{}
	for _, p := range c.Validate() {
		keys[p.Key] = true
	}
	for _, k := range []string{"secret", "refresh_ttl", "verify_keys.x.public_key"} {
		if !keys[k] {
			t.Errorf("Validate did not report %s: %v", k, keys)
		}
	}
	c = auth.DefaultConfig()
	c.Algorithm = "EdDSA"
	if ps := c.Validate(); len(ps) != 1 || ps[0].Key != "private_key" {
		t.Errorf("EdDSA without a key: %v", ps)
	}
}

// hsOldSecret is the HS256 verify key of attackConfig.
const hsOldSecret = "an-old-hs256-secret-of-32-bytes-or-more"

// attackConfig is the verifier the attacks run against: it signs with
// RS256 (testKeys.rsa) and also verifies HS256 (kid "hs-old") and another
// RSA key (kid "rs-other"), so that HS256 is an accepted algorithm and
// every kid names a real key: an attack must be refused by the kid and
// key checks, not merely because its algorithm is not configured at all.
func attackConfig(t testing.TB) auth.Config {
	t.Helper()
	return testConfig(withAlg("RS256"), func(c *auth.Config) {
		c.VerifyKeys = map[string]auth.VerifyKey{
			"hs-old":   {Algorithm: "HS256", Secret: app.NewSecret(hsOldSecret)},
			"rs-other": {Algorithm: "RS256", PublicKey: publicPEM(t, otherRSA())},
		}
	})
}

// publicPEM is the PKIX public key PEM of an RSA private key PEM.
func publicPEM(t testing.TB, private string) string {
	t.Helper()
	block, _ := pem.Decode([]byte(private))
	k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PUBLIC KEY", der)
}

// attacks returns tokens that a verifier of attackConfig must all refuse.
func attacks(t *testing.T) map[string]string {
	t.Helper()
	j := newJWT(t, attackConfig(t))
	valid, err := j.Issue(t.Context(), alice)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(valid.AccessToken, ".")
	enc := base64.RawURLEncoding.EncodeToString
	claims := decodeSegment(t, valid.AccessToken, 1)
	claims["sub"], claims["roles"] = "mallory", []string{"admin", "root"}
	payload, _ := json.Marshal(claims)

	// sign makes a token with golang-jwt directly.
	sign := func(method jwt.SigningMethod, key any, header map[string]any, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(method, c)
		for k, v := range header {
			tok.Header[k] = v
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	goodClaims := func() jwt.MapClaims {
		now := time.Now()
		return jwt.MapClaims{"iss": "test", "aud": "test", "sub": "mallory", "jti": "x1", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	}
	other := newJWT(t, testConfig(withAlg("RS256"), func(c *auth.Config) { c.PrivateKey = app.NewSecret(otherRSA()) }))
	otherTok, _ := other.Issue(t.Context(), alice)
	issuedBy := func(tweak func(*auth.Config), p ...func(*auth.Params)) string {
		tok, err := newJWT(t, testConfig(withAlg("RS256"), tweak), p...).Issue(t.Context(), alice)
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	noID := goodClaims()
	delete(noID, "jti")
	rsaDER, _ := x509.MarshalPKIXPublicKey(&testKeys.rsa.PublicKey)
	block, _ := pem.Decode([]byte(otherRSA()))
	otherKey, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	// The configured keys do verify their own tokens: the attacks below
	// fail for the reason they name.
	for name, tok := range map[string]string{
		"the RS256 signing key": valid.AccessToken,
		"the HS256 verify key":  sign(jwt.SigningMethodHS256, []byte(hsOldSecret), map[string]any{"kid": "hs-old"}, goodClaims()),
		"the other RS256 key":   sign(jwt.SigningMethodRS256, otherKey, map[string]any{"kid": "rs-other"}, goodClaims()),
	} {
		if _, err := j.Verify(t.Context(), tok); err != nil {
			t.Fatalf("a token of %s: %v", name, err)
		}
	}
	return map[string]string{
		"tampered payload":   parts[0] + "." + enc(payload) + "." + parts[2],
		"tampered signature": parts[0] + "." + parts[1] + "." + flip(parts[2]),
		"alg none":           enc([]byte(`{"alg":"none","typ":"JWT","kid":"`+j.KeyID()+`"}`)) + "." + parts[1] + ".",
		"alg none unsigned":  sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": j.KeyID()}, goodClaims()),
		// The classic confusion: HMAC keyed with the RSA public key's
		// bytes, while HS256 is configured (for another kid).
		"HS/RS confusion":             sign(jwt.SigningMethodHS256, []byte(testKeys.rsaPub), map[string]any{"kid": j.KeyID()}, goodClaims()),
		"HS/RS confusion PKCS#1":      sign(jwt.SigningMethodHS256, []byte(testKeys.rsaPub1), map[string]any{"kid": j.KeyID()}, goodClaims()),
		"HS/RS confusion DER":         sign(jwt.SigningMethodHS256, rsaDER, map[string]any{"kid": j.KeyID()}, goodClaims()),
		"HS/RS confusion, the HS kid": sign(jwt.SigningMethodHS256, []byte(testKeys.rsaPub), map[string]any{"kid": "hs-old"}, goodClaims()),
		"wrong kid: RS key, HS kid":   sign(jwt.SigningMethodRS256, testKeys.rsa, map[string]any{"kid": "hs-old"}, goodClaims()),
		"wrong kid: HS key, RS kid":   sign(jwt.SigningMethodHS256, []byte(hsOldSecret), map[string]any{"kid": j.KeyID()}, goodClaims()),
		"wrong kid: other RS key":     sign(jwt.SigningMethodRS256, otherKey, map[string]any{"kid": j.KeyID()}, goodClaims()),
		"wrong kid: signing key":      sign(jwt.SigningMethodRS256, testKeys.rsa, map[string]any{"kid": "rs-other"}, goodClaims()),
		"wrong kid, re-headed":        otherWithKid(t, otherTok.AccessToken, j.KeyID()),
		"unknown kid":                 sign(jwt.SigningMethodRS256, testKeys.rsa, map[string]any{"kid": "nope"}, goodClaims()),
		"no kid":                      sign(jwt.SigningMethodRS256, testKeys.rsa, nil, goodClaims()),
		"no jti":                      sign(jwt.SigningMethodRS256, testKeys.rsa, map[string]any{"kid": j.KeyID()}, noID),
		"expired":                     issuedBy(nil, at(-time.Hour)),
		"not yet valid":               issuedBy(nil, at(time.Hour)),
		"wrong iss":                   issuedBy(func(c *auth.Config) { c.Issuer = "evil" }),
		"wrong aud":                   issuedBy(func(c *auth.Config) { c.Audience = "other-service" }),
		"truncated":                   valid.AccessToken[:len(valid.AccessToken)-12],
		"two segments":                parts[0] + "." + parts[1],
		"100 KB":                      strings.Repeat("a", 100<<10),
		"oversized valid-looking":     parts[0] + "." + enc([]byte(`{"sub":"`+strings.Repeat("x", 9000)+`"}`)) + "." + parts[2],
		"garbage base64":              "abc$%.@@@.!!",
		"garbage segments":            "e30.e30.e30",
		"not json":                    enc([]byte("hello")) + "." + enc([]byte("world")) + "." + parts[2],
		"empty":                       "",
		"refresh token as access":     valid.RefreshToken,
	}
}

// flip changes the first character of a base64url segment.
func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

// otherRSA is a second RSA key, made once: RSA key generation is slow.
var otherRSA = sync.OnceValue(mustRSA)

// otherWithKid re-heads a token signed by another key with our kid.
func otherWithKid(t *testing.T, token, kid string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	h := decodeSegment(t, token, 0)
	h["kid"] = kid
	b, _ := json.Marshal(h)
	return base64.RawURLEncoding.EncodeToString(b) + "." + parts[1] + "." + parts[2]
}

func TestAttacksAreInvalidTokens(t *testing.T) {
	t.Parallel()
	j := newJWT(t, attackConfig(t))
	for name, tok := range attacks(t) {
		if _, err := j.Verify(t.Context(), tok); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: Verify returned %v, want ErrInvalidToken", name, err)
		}
	}
}

// Through the middleware, every attack is a 401 problem, never a 500.
func TestAttacksAre401(t *testing.T) {
	t.Parallel()
	j := newJWT(t, attackConfig(t))
	e := server(t, newGuard(t, j), nil)
	for name, tok := range attacks(t) {
		rec := get(e, "/me", "Authorization", "Bearer "+tok)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401; body %s", name, rec.Code, rec.Body)
			continue
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s: Content-Type %q", name, ct)
		}
		wa := rec.Header().Get("WWW-Authenticate")
		if !strings.HasPrefix(wa, `Bearer realm="test"`) || (!strings.Contains(wa, `error="invalid_token"`) && !strings.Contains(wa, `error="invalid_request"`) && tok != "") {
			t.Errorf("%s: WWW-Authenticate %q", name, wa)
		}
		// One answer for every failed check (RFC 6750 §3).
		var body struct{ Detail string }
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		switch body.Detail {
		case "the access token is invalid or expired", "the Authorization header is malformed", "authentication is required":
		default:
			t.Errorf("%s: detail %q says more than RFC 6750 allows", name, body.Detail)
		}
	}
}

// A token made by go-jose with the configured key verifies here, and one
// of ours verifies with go-jose.
func TestInterop(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		alg    string
		jalg   jose.SignatureAlgorithm
		sign   any
		verify any
	}{
		{"HS256", jose.HS256, []byte(testSecret), []byte(testSecret)},
		{"EdDSA", jose.EdDSA, testKeys.ed, testKeys.ed.Public()},
		{"RS256", jose.RS256, testKeys.rsa, &testKeys.rsa.PublicKey},
		{"ES256", jose.ES256, testKeys.ec, &testKeys.ec.PublicKey},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			t.Parallel()
			j := newJWT(t, testConfig(withAlg(tc.alg)))
			// Theirs → ours.
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: tc.jalg, Key: tc.sign},
				(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", j.KeyID()))
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			theirs, err := josejwt.Signed(signer).Claims(josejwt.Claims{
				Issuer: "test", Subject: "bob", Audience: josejwt.Audience{"test"}, ID: "jose-1",
				IssuedAt: josejwt.NewNumericDate(now), NotBefore: josejwt.NewNumericDate(now), Expiry: josejwt.NewNumericDate(now.Add(time.Minute)),
			}).Claims(map[string]any{"roles": []string{"editor"}, "tenant": "acme", "team": "blue"}).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			id, err := j.Verify(t.Context(), theirs)
			if err != nil {
				t.Fatalf("a go-jose token: %v", err)
			}
			if id.Subject != "bob" || !id.HasRole("editor") || id.Tenant != "acme" || id.Claims["team"] != "blue" || id.TokenID != "jose-1" {
				t.Fatalf("a go-jose token gave %+v", id)
			}
			// Ours → theirs.
			p, err := j.Issue(t.Context(), alice)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := josejwt.ParseSigned(p.AccessToken, []jose.SignatureAlgorithm{tc.jalg})
			if err != nil {
				t.Fatalf("go-jose parsing ours: %v", err)
			}
			if parsed.Headers[0].KeyID != j.KeyID() {
				t.Fatalf("go-jose sees kid %q, want %q", parsed.Headers[0].KeyID, j.KeyID())
			}
			var std josejwt.Claims
			var extra struct {
				Roles  []string `json:"roles"`
				Tenant string   `json:"tenant"`
				Plan   string   `json:"plan"`
			}
			if err := parsed.Claims(tc.verify, &std, &extra); err != nil {
				t.Fatalf("go-jose verifying ours: %v", err)
			}
			if err := std.Validate(josejwt.Expected{Issuer: "test", AnyAudience: josejwt.Audience{"test"}, Time: time.Now()}); err != nil {
				t.Fatalf("go-jose validating ours: %v", err)
			}
			if std.Subject != "alice" || std.ID == "" || extra.Tenant != "acme" || extra.Plan != "pro" || len(extra.Roles) != 1 {
				t.Fatalf("go-jose read %+v %+v", std, extra)
			}
		})
	}
}

func TestRevocationStoreFailure(t *testing.T) {
	t.Parallel()
	j := newJWT(t, testConfig(), func(p *auth.Params) { p.Revocations = failing{} })
	p, err := j.Issue(t.Context(), alice)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Verify(t.Context(), p.AccessToken); err == nil || errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("Verify with a failing store: %v, want a store error that is not ErrInvalidToken", err)
	}
	rec := get(server(t, newGuard(t, j), nil), "/me", bearer(p.AccessToken)...)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("a failing store: %d %v, want 503 with Retry-After", rec.Code, rec.Header())
	}
}

type failing struct{}

func (failing) Revoke(context.Context, string, time.Time) error { return errors.New("store down") }
func (failing) RevokeSubject(context.Context, string, time.Time, time.Time) error {
	return errors.New("store down")
}
func (failing) Revoked(context.Context, auth.RevokedParams) (bool, error) {
	return false, errors.New("store down")
}

func TestReloadOnRefresh(t *testing.T) {
	t.Parallel()
	deleted := false
	j := newJWT(t, testConfig(), func(p *auth.Params) {
		p.Reload = func(_ context.Context, s auth.Session) (auth.Principal, error) {
			if time.Since(s.Started) > time.Minute || s.Subject != "alice" {
				return s.Principal, errors.New("the session does not say when it started, or for whom")
			}
			if deleted {
				return s.Principal, auth.ErrInvalidRefresh
			}
			p := s.Principal
			p.Roles = []string{"demoted"}
			return p, nil
		}
	})
	p, err := j.Issue(t.Context(), alice)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := j.Refresh(t.Context(), p.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	id, err := j.Verify(t.Context(), p2.AccessToken)
	if err != nil || id.HasRole("admin") || !id.HasRole("demoted") {
		t.Fatalf("after a reload: %+v, %v; want the reloaded roles", id, err)
	}
	deleted = true
	if _, err := j.Refresh(t.Context(), p2.RefreshToken); !errors.Is(err, auth.ErrInvalidRefresh) {
		t.Fatalf("refresh of a deleted user: %v", err)
	}
	deleted = false
	if _, err := j.Refresh(t.Context(), p2.RefreshToken); !errors.Is(err, auth.ErrInvalidRefresh) {
		t.Fatalf("the family of a deleted user is revoked: got %v", err)
	}
}

func TestMalformedRefreshTokens(t *testing.T) {
	t.Parallel()
	j := newJWT(t, testConfig())
	for _, tok := range []string{"", "short", strings.Repeat("A", 64), strings.Repeat("!", 64), strings.Repeat("A", 65)} {
		if _, err := j.Refresh(t.Context(), tok); !errors.Is(err, auth.ErrInvalidRefresh) || errors.Is(err, auth.ErrRefreshReused) {
			t.Errorf("Refresh(%q): %v, want ErrInvalidRefresh", tok, err)
		}
	}
}

// A token the verified-token cache holds still expires, and its
// revocation is still checked. A revoked token stays refused for as long
// as it would otherwise verify, up to exp plus the leeway: revoked by
// Revoke or by reuse detection, with the cache on and off.
func TestVerifyCacheKeepsChecking(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 10_000} {
		t.Run(fmt.Sprintf("verify_cache_size=%d", size), func(t *testing.T) {
			t.Parallel()
			var (
				mu    sync.Mutex
				start = time.Now()
				now   = start
			)
			clock := func() time.Time {
				mu.Lock()
				defer mu.Unlock()
				return now
			}
			set := func(t time.Time) {
				mu.Lock()
				defer mu.Unlock()
				now = t
			}
			mc := memory.Config{Now: clock}
			j := newJWT(t, testConfig(func(c *auth.Config) { c.VerifyCacheSize, c.RefreshGrace = size, 0 }), func(p *auth.Params) {
				p.Now = clock
				p.Revocations, p.Refresh = memory.NewRevocations(mc), memory.NewRefresh(mc)
			})
			verify := func(token string, want error) auth.Identity {
				t.Helper()
				id, err := j.Verify(t.Context(), token)
				if (want == nil && err != nil) || (want != nil && !errors.Is(err, want)) {
					t.Fatalf("Verify at %v: %v, want %v", clock().Format(time.TimeOnly), err, want)
				}
				return id
			}
			p, err := j.Issue(t.Context(), alice)
			if err != nil {
				t.Fatal(err)
			}
			first, second := verify(p.AccessToken, nil), verify(p.AccessToken, nil)
			// The cache hands out the identity it keeps: the same slices.
			if cached := &first.Roles[0] == &second.Roles[0]; cached != (size > 0) {
				t.Fatalf("second Verify served from the cache: %v, want %v", cached, size > 0)
			}
			set(first.ExpiresAt.Add(29 * time.Second)) // within the 30s leeway
			verify(p.AccessToken, nil)
			set(first.ExpiresAt.Add(31 * time.Second))
			verify(p.AccessToken, auth.ErrInvalidToken)

			set(start)
			p2, _ := j.Issue(t.Context(), alice)
			id := verify(p2.AccessToken, nil)
			verify(p2.AccessToken, nil)
			if err := j.Revoke(t.Context(), auth.RevokeParams{Access: id}); err != nil {
				t.Fatal(err)
			}
			verify(p2.AccessToken, auth.ErrRevoked)
			set(id.ExpiresAt.Add(10 * time.Second)) // past exp, within the leeway
			verify(p2.AccessToken, auth.ErrRevoked)
			set(id.ExpiresAt.Add(31 * time.Second))
			verify(p2.AccessToken, auth.ErrInvalidToken)

			// Reuse detection revokes the family's last access token.
			set(start)
			p3, _ := j.Issue(t.Context(), alice)
			p4, err := j.Refresh(t.Context(), p3.RefreshToken)
			if err != nil {
				t.Fatal(err)
			}
			verify(p4.AccessToken, nil)
			if _, err := j.Refresh(t.Context(), p3.RefreshToken); !errors.Is(err, auth.ErrRefreshReused) {
				t.Fatalf("reuse: %v", err)
			}
			verify(p4.AccessToken, auth.ErrRevoked)
			set(p4.AccessExpiresAt.Add(10 * time.Second))
			verify(p4.AccessToken, auth.ErrRevoked)
		})
	}
}

// FuzzVerify feeds arbitrary strings to Verify: it never panics, never
// fails with anything but ErrInvalidToken, and accepts only canonical
// encodings (no second spelling of a valid token).
func FuzzVerify(f *testing.F) {
	j := newJWT(f, testConfig())
	for _, p := range []auth.Principal{alice, {Subject: "s"}, {Subject: "s", Claims: map[string]any{`we"ird\key`: []any{1.0, "x"}}}} {
		tok := issue(f, j, p)
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + "." + parts[1] + "." + parts[2] + "=")
		// Line breaks, which encoding/base64 skips even when strict.
		f.Add(parts[0] + "." + parts[1] + "." + parts[2][:5] + "\n" + parts[2][5:])
		f.Add(tok + "\r\n")
	}
	hs := func(header string) string {
		signing := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + strings.Split(issue(f, j, alice), ".")[1]
		sig, err := jwt.SigningMethodHS256.Sign(signing, []byte(testSecret))
		if err != nil {
			f.Fatal(err)
		}
		return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	f.Add(hs(`{"alg":"HS256","kid":"` + j.KeyID() + `","crit":["exp-ext"],"exp-ext":1}`))
	f.Add(hs(`{"alg":"HS256","kid":5}`))
	f.Add("e30.e30.e30")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := j.Verify(context.Background(), tok)
		if err == nil {
			if h, ok := tokenHeader(tok); !ok || h["crit"] != nil || (h["kid"] != nil && h["kid"] != j.KeyID()) {
				t.Fatalf("Verify accepted %q, whose header is %v", tok, h)
			}
			for _, seg := range strings.Split(tok, ".") {
				b, derr := base64.RawURLEncoding.DecodeString(seg)
				if derr != nil || base64.RawURLEncoding.EncodeToString(b) != seg {
					t.Fatalf("Verify accepted a non-canonical token %q → %+v", tok, id)
				}
			}
		}
		if err != nil && !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("Verify(%q): %v, want ErrInvalidToken", tok, err)
		}
	})
}

// tokenHeader decodes the header of tok, a token Verify accepted.
func tokenHeader(tok string) (map[string]any, bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	var h map[string]any
	return h, err == nil && json.Unmarshal(b, &h) == nil
}

// A custom claim named like a known one in another case ("Sub", "EXP")
// is refused by Issue and by Refresh (whatever Reload returns), and in a
// token signed elsewhere it is a custom claim: it never stands in for the
// subject, the roles or the expiry.
func TestReservedClaimsInAnyCase(t *testing.T) {
	t.Parallel()
	forged := []map[string]any{{"Sub": "bob"}, {"Roles": []string{"admin"}}, {"EXP": 9e9}, {"tEnAnT": "other"}, {"JTI": "x"}}
	j := newJWT(t, testConfig())
	for _, c := range forged {
		if _, err := j.Issue(t.Context(), auth.Principal{Subject: "alice", Claims: c}); err == nil {
			t.Errorf("Issue with custom claims %v succeeded", c)
		}
	}
	for _, c := range forged {
		r := newJWT(t, testConfig(), func(p *auth.Params) {
			p.Reload = func(_ context.Context, s auth.Session) (auth.Principal, error) {
				p := s.Principal
				p.Claims = c
				return p, nil
			}
		})
		pair, err := r.Issue(t.Context(), auth.Principal{Subject: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		if p2, err := r.Refresh(t.Context(), pair.RefreshToken); err == nil {
			t.Errorf("Refresh with reloaded custom claims %v succeeded: %v", c, decodeSegment(t, p2.AccessToken, 1))
		}
	}
	// A token signed with the configured key by someone else.
	now := time.Now().Unix()
	payload := fmt.Sprintf(`{"iss":"test","aud":"test","sub":"alice","jti":"j1","iat":%d,"nbf":%d,"exp":%d,"roles":["user"],`+
		`"Sub":"bob","ROLES":["admin"],"Exp":%d,"Tenant":"other"}`, now, now, now+60, now+1e9)
	enc := base64.RawURLEncoding.EncodeToString
	signing := enc([]byte(`{"alg":"HS256","kid":"`+j.KeyID()+`","typ":"JWT"}`)) + "." + enc([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(signing, []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	id, err := j.Verify(t.Context(), signing+"."+enc(sig))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if id.Subject != "alice" || id.HasRole("admin") || id.Tenant != "" || id.ExpiresAt.Unix() != now+60 {
		t.Fatalf("claims in another case changed the identity: %+v", id)
	}
	if id.Claims["Sub"] != "bob" {
		t.Fatalf("custom claims %v: want Sub kept as a custom claim", id.Claims)
	}
}

// Revoke of an identity without ExpiresAt (a jti kept by the service, not
// an identity from Verify) still revokes the token.
func TestRevokeWithoutExpiry(t *testing.T) {
	t.Parallel()
	j := newJWT(t, testConfig())
	p, err := j.Issue(t.Context(), alice)
	if err != nil {
		t.Fatal(err)
	}
	id, err := j.Verify(t.Context(), p.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Revoke(t.Context(), auth.RevokeParams{Access: auth.Identity{TokenID: id.TokenID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Verify(t.Context(), p.AccessToken); !errors.Is(err, auth.ErrRevoked) {
		t.Fatalf("Verify after Revoke without ExpiresAt: %v, want ErrRevoked", err)
	}
	// An identity long expired: nothing to revoke, and no error.
	if err := j.Revoke(t.Context(), auth.RevokeParams{Access: auth.Identity{TokenID: "old", ExpiresAt: time.Now().Add(-time.Hour)}}); err != nil {
		t.Fatalf("Revoke of an expired token: %v", err)
	}
}

// Claim sets that the fast decode of known claims only must hand to the
// full one, or read as the full one does: a known claim's name in
// another case (no other custom claim), a later null for a known claim,
// null or "" in roles and aud, a claim of the wrong type.
func TestClaimSetsDecodedExactly(t *testing.T) {
	t.Parallel()
	j := newJWT(t, testConfig(func(c *auth.Config) { c.VerifyCacheSize = 0 })) // every Verify decodes
	now := time.Now().Unix()
	base := fmt.Sprintf(`"iss":"test","aud":"test","jti":"j1","iat":%d,"nbf":%d,"exp":%d`, now, now, now+60)
	enc := base64.RawURLEncoding.EncodeToString
	sign := func(payload string) string {
		signing := enc([]byte(`{"alg":"HS256","kid":"`+j.KeyID()+`","typ":"JWT"}`)) + "." + enc([]byte(payload))
		sig, err := jwt.SigningMethodHS256.Sign(signing, []byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		return signing + "." + enc(sig)
	}
	for name, tc := range map[string]struct {
		payload string
		check   func(auth.Identity) bool // nil: refused
	}{
		"Sub alone": {`{` + base + `,"sub":"alice","Sub":"bob"}`, func(id auth.Identity) bool {
			return id.Subject == "alice" && id.Claims["Sub"] == "bob" && len(id.Claims) == 1
		}},
		"SUB before sub": {`{"SUB":"bob",` + base + `,"sub":"alice"}`, func(id auth.Identity) bool {
			return id.Subject == "alice" && id.Claims["SUB"] == "bob"
		}},
		"Sub without sub":   {`{` + base + `,"Sub":"bob"}`, nil},
		"tEnAnT null":       {`{` + base + `,"sub":"alice","tEnAnT":null}`, func(id auth.Identity) bool { _, ok := id.Claims["tEnAnT"]; return ok && id.Tenant == "" }},
		"Exp far":           {`{` + base + `,"sub":"alice","Exp":9e9}`, func(id auth.Identity) bool { return id.ExpiresAt.Unix() == now+60 }},
		"sub then null":     {`{` + base + `,"sub":"alice","sub":null}`, nil},
		"tenant then null":  {`{` + base + `,"sub":"alice","tenant":"acme","tenant":null}`, func(id auth.Identity) bool { return id.Tenant == "" }},
		"exp then null":     {`{` + base + `,"sub":"alice","exp":null}`, nil},
		"role null":         {`{` + base + `,"sub":"alice","roles":["admin",null]}`, nil},
		"role empty":        {`{` + base + `,"sub":"alice","roles":["admin",""]}`, func(id auth.Identity) bool { return len(id.Roles) == 2 && id.Roles[1] == "" }},
		"roles null":        {`{` + base + `,"sub":"alice","roles":null}`, func(id auth.Identity) bool { return id.Roles == nil }},
		"aud element null":  {`{` + base + `,"sub":"alice","aud":["test",null]}`, nil},
		"roles twice, null": {`{` + base + `,"sub":"alice","roles":["admin","user"],"roles":["guest",null]}`, nil},
		"roles twice":       {`{` + base + `,"sub":"alice","roles":["admin","user"],"roles":["guest"]}`, func(id auth.Identity) bool { return len(id.Roles) == 1 && id.Roles[0] == "guest" }},
		"aud twice, null":   {`{` + base + `,"sub":"alice","aud":["other","test"],"aud":["test",null]}`, nil},
		"aud array":         {`{` + base + `,"sub":"alice","aud":["other","test"]}`, func(id auth.Identity) bool { return id.Subject == "alice" }},
		"aud other":         {`{` + base + `,"sub":"alice","aud":"other"}`, nil},
		"sub a number":      {`{` + base + `,"sub":42}`, nil},
		"roles a string":    {`{` + base + `,"sub":"alice","roles":"admin"}`, nil},
		"custom claim":      {`{` + base + `,"sub":"alice","plan":"pro"}`, func(id auth.Identity) bool { return id.Claims["plan"] == "pro" }},
		"known claims only": {`{` + base + `,"sub":"alice","roles":["admin"],"tenant":"acme"}`, func(id auth.Identity) bool { return id.HasRole("admin") && id.Tenant == "acme" && id.Claims == nil }},
		"not an object":     {`["sub","alice"]`, nil},
		// What follows the claim set: white space only, as json.Unmarshal.
		"trailing value":       {`{` + base + `,"sub":"alice"} {"sub":"mallory"}`, nil},
		"trailing brace":       {`{` + base + `,"sub":"alice"}}`, nil},
		"trailing white space": {`{` + base + `,"sub":"alice"} ` + "\n\t", func(id auth.Identity) bool { return id.Subject == "alice" }},
		"iat to the milli":     {`{` + base[:strings.Index(base, `"iat"`)] + fmt.Sprintf(`"iat":%d.125,"nbf":%d,"exp":%d,"sub":"alice"}`, now-1, now, now+60), func(id auth.Identity) bool { return id.IssuedAt.UnixMilli() == (now-1)*1000+125 }},
	} {
		// After a token without custom claims Verify tries the decode
		// of known claims first; after one with, the map decode.
		for _, before := range []string{"fast first", "map first"} {
			prior := auth.Principal{Subject: "prior"}
			if before == "map first" {
				prior.Claims = map[string]any{"plan": "pro"}
			}
			if _, err := j.Verify(t.Context(), issue(t, j, prior)); err != nil {
				t.Fatal(err)
			}
			verifyClaimSet(t, j, name+", "+before, tc.payload, sign(tc.payload), tc.check)
			// Nothing of this claim set leaks into the next one's decode.
			if id, err := j.Verify(t.Context(), issue(t, j, auth.Principal{Subject: "after"})); err != nil || id.Subject != "after" {
				t.Fatalf("%s, %s: the next token: %+v, %v", name, before, id, err)
			}
		}
	}
}

// verifyClaimSet checks that Verify of token (signed payload) is refused
// when check is nil, and accepted with check true otherwise.
func verifyClaimSet(t *testing.T, j *auth.JWT, name, payload, token string, check func(auth.Identity) bool) {
	t.Helper()
	id, err := j.Verify(t.Context(), token)
	switch {
	case check == nil && err == nil:
		t.Errorf("%s: Verify accepted %s: %+v", name, payload, id)
	case check == nil && !errors.Is(err, auth.ErrInvalidToken):
		t.Errorf("%s: Verify: %v, want ErrInvalidToken", name, err)
	case check != nil && err != nil:
		t.Errorf("%s: Verify(%s): %v", name, payload, err)
	case check != nil && !check(id):
		t.Errorf("%s: Verify(%s) = %+v", name, payload, id)
	}
}

// Concurrent verifications of different tokens, among them claim sets the
// fast decode declines, each get their own claims (the fast decode's
// decoders are pooled).
func TestVerifyConcurrentClaimSets(t *testing.T) {
	t.Parallel()
	j := newJWT(t, testConfig())
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				p := auth.Principal{Subject: fmt.Sprintf("user-%d-%d", g, i), Roles: []string{fmt.Sprint("role-", i)}}
				if i%3 == 0 {
					p.Claims = map[string]any{"n": float64(i)}
				}
				pair, err := j.Issue(t.Context(), p)
				if err != nil {
					t.Error(err)
					return
				}
				id, err := j.Verify(t.Context(), pair.AccessToken)
				if err != nil || id.Subject != p.Subject || !id.HasRole(p.Roles[0]) || (i%3 == 0) != (id.Claims["n"] == float64(i)) {
					t.Errorf("Verify of %+v: %+v, %v", p, id, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
