package auth_test

// Verify attacked as a hostile client would: every token made here
// without the configured key, or with a defect, must be refused with
// ErrInvalidToken (and ErrRevoked for a revoked one). The few tokens
// accepted are what docs/auth.md promises to accept; they are checked
// too, so that each refusal is for the reason named and not because the
// forging helper is broken.

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/auth/memory"
)

// fakeClock is the clock of a hostile test: fixed until Set.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().Truncate(time.Second).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// hostileJWT is a verifier of cfg on memory stores, both on clock c.
func hostileJWT(t testing.TB, c *fakeClock, cfg auth.Config) *auth.JWT {
	t.Helper()
	mc := memory.Config{Now: c.Now}
	return newJWT(t, cfg, func(p *auth.Params) {
		p.Now = c.Now
		p.Revocations, p.Refresh = memory.NewRevocations(mc), memory.NewRefresh(mc)
	})
}

var b64 = base64.RawURLEncoding.EncodeToString

// forge returns the token of a raw JSON header and claim set, signed with
// m and key, or with an empty signature when m is nil.
func forge(t testing.TB, header, payload string, m jwt.SigningMethod, key any) string {
	t.Helper()
	signing := b64([]byte(header)) + "." + b64([]byte(payload))
	if m == nil {
		return signing + "."
	}
	sig, err := m.Sign(signing, key)
	if err != nil {
		t.Fatalf("signing with %s: %v", m.Alg(), err)
	}
	return signing + "." + b64(sig)
}

// claimSet is a valid claim set for issuer and audience "test" at now,
// JSON-encoded after tweak (which may be nil).
func claimSet(now time.Time, tweak func(map[string]any)) string {
	m := map[string]any{
		"iss": "test", "aud": "test", "sub": "mallory", "jti": "hostile-1", "roles": []string{"admin"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	}
	if tweak != nil {
		tweak(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// refused fails t unless err refuses a token: ErrInvalidToken, never a
// store error, and each of also.
func refused(t testing.TB, name string, id auth.Identity, err error, also ...error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: accepted: %+v", name, id)
		return
	}
	if !errors.Is(err, auth.ErrInvalidToken) || errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("%s: %v, want ErrInvalidToken", name, err)
	}
	for _, want := range also {
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want it to wrap %v", name, err, want)
		}
	}
}

// The public keys of testKeys in the forms an attacker would try as an
// HMAC secret.
func publicKeyForms(t testing.TB) map[string][]byte {
	t.Helper()
	rsaDER, err := x509.MarshalPKIXPublicKey(&testKeys.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKIXPublicKey(&testKeys.ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ecPoint, err := testKeys.ec.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"RSA PKIX PEM": []byte(testKeys.rsaPub), "RSA PKCS#1 PEM": []byte(testKeys.rsaPub1), "RSA DER": rsaDER,
		"EC PKIX PEM": []byte(pemOf("PUBLIC KEY", ecDER)), "EC DER": ecDER, "EC point": ecPoint,
		"Ed25519 PKIX PEM": []byte(testKeys.edPub), "Ed25519 raw": testKeys.ed.Public().(ed25519.PublicKey),
	}
}

// keySet is a configuration under attack: kids maps each kid a token may
// carry ("" for none) to the signer that holds its key ("" when no
// signer does: the token must be refused whoever signed it).
type keySet struct {
	cfg  auth.Config
	kids map[string]string
}

func keySets(t testing.TB) map[string]keySet {
	t.Helper()
	ecDER, err := x509.MarshalPKIXPublicKey(&testKeys.ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]keySet{}
	for _, alg := range []string{"HS256", "RS256", "ES256", "EdDSA"} {
		sets["only "+alg] = keySet{
			cfg:  testConfig(withAlg(alg), func(c *auth.Config) { c.KeyID = "k-sign" }),
			kids: map[string]string{"k-sign": alg, "": alg, "unknown": ""},
		}
	}
	// Every algorithm configured at once, each under its own kid: an
	// attack must be refused by the kid's key, not because its algorithm
	// is not configured at all.
	sets["all four"] = keySet{
		cfg: testConfig(withAlg("EdDSA"), func(c *auth.Config) {
			c.KeyID = "k-sign"
			c.VerifyKeys = map[string]auth.VerifyKey{
				"hs": {Algorithm: "HS256", Secret: app.NewSecret(testSecret)},
				"rs": {Algorithm: "RS256", PublicKey: testKeys.rsaPub},
				"es": {Algorithm: "ES256", PublicKey: pemOf("PUBLIC KEY", ecDER)},
			}
		}),
		kids: map[string]string{"k-sign": "EdDSA", "hs": "HS256", "rs": "RS256", "es": "ES256", "": "", "unknown": ""},
	}
	return sets
}

// Every signer an attacker might use, against every key configuration and
// kid: only the holder of the kid's key, with the key's algorithm, gets
// in. Covers an algorithm other than the key's (HS256 where the key is
// RSA, EC or Ed25519 and the reverse, HS384/HS512, RS512, PS256), the
// algorithm-confusion attack (HS256 keyed with the bytes of the public
// key, in each form), and unknown or absent kids.
func TestHostileAlgorithmsAndKeys(t *testing.T) {
	t.Parallel()
	c := newClock()
	payload := claimSet(c.Now(), nil)
	type signer struct {
		m   jwt.SigningMethod
		key any
	}
	signers := map[string]signer{
		"HS256": {jwt.SigningMethodHS256, []byte(testSecret)}, "RS256": {jwt.SigningMethodRS256, testKeys.rsa},
		"ES256": {jwt.SigningMethodES256, testKeys.ec}, "EdDSA": {jwt.SigningMethodEdDSA, testKeys.ed},
		"HS384 with the secret":      {jwt.SigningMethodHS384, []byte(testSecret)},
		"HS512 with the secret":      {jwt.SigningMethodHS512, []byte(testSecret)},
		"RS512 with the RSA key":     {jwt.SigningMethodRS512, testKeys.rsa},
		"PS256 with the RSA key":     {jwt.SigningMethodPS256, testKeys.rsa},
		"RS256 with another RSA key": {jwt.SigningMethodRS256, parseRSA(t, otherRSA())},
		"HS256 with another secret":  {jwt.SigningMethodHS256, []byte("another-secret-of-32-bytes-or-more!!")},
	}
	for form, b := range publicKeyForms(t) {
		signers["HS256 keyed with the "+form] = signer{jwt.SigningMethodHS256, b}
	}
	for setName, set := range keySets(t) {
		t.Run(setName, func(t *testing.T) {
			t.Parallel()
			j := hostileJWT(t, c, set.cfg)
			for kid, holder := range set.kids {
				for name, s := range signers {
					header := `{"alg":"` + s.m.Alg() + `","typ":"JWT","kid":"` + kid + `"}`
					if kid == "" {
						header = `{"alg":"` + s.m.Alg() + `","typ":"JWT"}`
					}
					tok := forge(t, header, payload, s.m, s.key)
					id, err := j.Verify(t.Context(), tok)
					label := fmt.Sprintf("kid %q, %s", kid, name)
					if name == holder {
						if err != nil || id.Subject != "mallory" {
							t.Errorf("%s: the key's own token: %+v, %v", label, id, err)
						}
						continue
					}
					refused(t, label, id, err)
				}
			}
		})
	}
}

func parseRSA(t testing.TB, pemKey string) any {
	t.Helper()
	k, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(pemKey))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// alg "none" in any case, a missing, empty or non-string alg, and a
// duplicate alg (encoding/json keeps the last, as RFC 7515 §4 allows):
// each refused, with the configured key's valid signature or none.
func TestHostileAlgHeader(t *testing.T) {
	t.Parallel()
	c := newClock()
	j := hostileJWT(t, c, testConfig())
	kid := `"kid":"` + j.KeyID() + `"`
	payload := claimSet(c.Now(), nil)
	for _, header := range []string{
		`{"alg":"none",` + kid + `}`, `{"alg":"None",` + kid + `}`, `{"alg":"NONE",` + kid + `}`, `{"alg":"nOnE",` + kid + `}`,
		`{"alg":"none"}`, `{` + kid + `}`, `{"alg":"",` + kid + `}`, `{"alg":null,` + kid + `}`, `{"alg":256,` + kid + `}`,
		`{"alg":["HS256"],` + kid + `}`, `{"alg":{"alg":"HS256"},` + kid + `}`, `{"alg":"hs256",` + kid + `}`,
		`{"alg":"HS256 ",` + kid + `}`, `{"ALG":"HS256",` + kid + `}`, `{"Alg":"HS256",` + kid + `}`,
		`{"alg":"HS256",` + kid + `,"alg":"none"}`, `{"alg":"HS256",` + kid + `,"alg":"None"}`,
		`{"alg":"HS256",` + kid + `,"alg":null}`, `{"alg":"HS256",` + kid + `,"alg":"RS256"}`,
	} {
		for _, signed := range []bool{true, false} {
			m := jwt.SigningMethod(jwt.SigningMethodHS256)
			if !signed {
				m = nil
			}
			id, err := j.Verify(t.Context(), forge(t, header, payload, m, []byte(testSecret)))
			refused(t, fmt.Sprintf("%s signed %v", header, signed), id, err)
		}
	}
	// With duplicates, the last alg is the one verified: "none" first
	// does not let an unsigned token through.
	for _, header := range []string{`{"alg":"none",` + kid + `,"alg":"HS256"}`, `{"alg":"none","alg":"HS256"}`} {
		id, err := j.Verify(t.Context(), forge(t, header, payload, nil, nil))
		refused(t, header+" unsigned", id, err)
		id, err = j.Verify(t.Context(), forge(t, header, payload, jwt.SigningMethodHS256, []byte("another-secret-of-32-bytes-or-more!!")))
		refused(t, header+" wrong key", id, err, jwt.ErrTokenSignatureInvalid)
	}
}

// kids an attacker might try: unknown, empty, huge, path- or SQL-like,
// another case, with a NUL, or naming a key of another algorithm; and a
// kid given twice (the last one counts).
func TestHostileKid(t *testing.T) {
	t.Parallel()
	c := newClock()
	set := keySets(t)["all four"]
	j := hostileJWT(t, c, set.cfg)
	payload := claimSet(c.Now(), nil)
	for _, kid := range []string{
		"nope", "", strings.Repeat("k", 5000), "../../../../etc/passwd", `..\..\hs`, "/hs", "hs/../hs", "file:///hs",
		"' OR '1'='1", `hs"; DROP TABLE keys; --`, "HS", " hs", "hs ", "hs\x00", "hs\n", "%68%73", "\u0068\u200bs",
		"k-sign", "rs", "es",
	} {
		kidJSON, _ := json.Marshal(kid)
		header := `{"alg":"HS256","kid":` + string(kidJSON) + `}`
		id, err := j.Verify(t.Context(), forge(t, header, payload, jwt.SigningMethodHS256, []byte(testSecret)))
		refused(t, fmt.Sprintf("kid %.40q", kid), id, err)
	}
	for _, header := range []string{`{"alg":"HS256","kid":"hs","kid":"rs"}`, `{"alg":"HS256","kid":"hs","kid":"nope"}`} {
		id, err := j.Verify(t.Context(), forge(t, header, payload, jwt.SigningMethodHS256, []byte(testSecret)))
		refused(t, header, id, err)
	}
}

// jku, x5u, jwk and x5c are never fetched nor trusted: a token signed by
// the attacker's key, which these headers name or carry, is refused, and
// nothing is fetched; with the configured key's signature they are
// ignored.
func TestHostileKeyURLsIgnored(t *testing.T) {
	t.Parallel()
	c := newClock()
	var fetched atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		http.Error(w, "no", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	set := keySets(t)["all four"]
	j := hostileJWT(t, c, set.cfg)
	payload := claimSet(c.Now(), nil)

	mallory, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x := b64(mallory.PublicKey.X.FillBytes(make([]byte, 32)))
	y := b64(mallory.PublicKey.Y.FillBytes(make([]byte, 32)))
	der, _ := x509.MarshalPKIXPublicKey(&mallory.PublicKey)
	params := `"jku":"` + srv.URL + `/jwks.json","x5u":"` + srv.URL + `/cert.pem",` +
		`"jwk":{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `"},"x5c":["` + base64.StdEncoding.EncodeToString(der) + `"]`
	for _, kid := range []string{`"kid":"es",`, `"kid":"mallory",`, ``} {
		header := `{"alg":"ES256",` + kid + params + `}`
		id, err := j.Verify(t.Context(), forge(t, header, payload, jwt.SigningMethodES256, mallory))
		refused(t, "signed by the key in jwk, "+kid, id, err)
	}
	// The HMAC secret an attacker might hope for: the URL, or the jwk.
	for _, secret := range []string{srv.URL + "/jwks.json", `{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `"}`} {
		id, err := j.Verify(t.Context(), forge(t, `{"alg":"HS256","kid":"hs",`+params+`}`, payload, jwt.SigningMethodHS256, []byte(secret)))
		refused(t, "HS256 keyed with "+secret, id, err)
	}
	// Signed with the configured key, the headers change nothing.
	if _, err := j.Verify(t.Context(), forge(t, `{"alg":"ES256","kid":"es",`+params+`}`, payload, jwt.SigningMethodES256, testKeys.ec)); err != nil {
		t.Errorf("the configured key's token with jku, x5u, jwk and x5c: %v", err)
	}
	if n := fetched.Load(); n != 0 {
		t.Errorf("Verify fetched %d URLs from token headers", n)
	}
}

// Headers that are not a JSON object (a BOM, an array, a string, null,
// trailing data, nesting at depth) are refused, signed by the configured
// key or not.
func TestHostileHeaderJSON(t *testing.T) {
	t.Parallel()
	c := newClock()
	j := hostileJWT(t, c, testConfig())
	payload := claimSet(c.Now(), nil)
	good := `{"alg":"HS256","kid":"` + j.KeyID() + `"}`
	nested := `{"alg":"HS256","kid":"` + j.KeyID() + `","x":` + strings.Repeat("[", 2500) + strings.Repeat("]", 2500) + `}`
	for name, header := range map[string]string{
		"BOM": "\ufeff" + good, "array": `["alg","HS256"]`, "string": `"HS256"`, "null": `null`, "number": `1`, "true": `true`,
		"empty": ``, "trailing value": good + `{"alg":"none"}`, "trailing brace": good + `}`, "unterminated": good[:len(good)-1],
		"single quotes": strings.ReplaceAll(good, `"`, `'`), "latin-1": "{\"alg\":\"HS256\",\"kid\":\"" + j.KeyID() + "\",\"x\":\"\xe9\"",
	} {
		id, err := j.Verify(t.Context(), forge(t, header, payload, jwt.SigningMethodHS256, []byte(testSecret)))
		refused(t, "header "+name, id, err)
	}
	// Nesting: decoded before the signature is checked, bounded by
	// auth.max_token_bytes (so far below encoding/json's depth limit).
	id, err := j.Verify(t.Context(), forge(t, nested, payload, jwt.SigningMethodHS256, []byte("another-secret-of-32-bytes-or-more!!")))
	refused(t, "nested header, wrong key", id, err, jwt.ErrTokenSignatureInvalid)
	deeper := `{"alg":"HS256","x":` + strings.Repeat("[", 20000) + `}`
	id, err = j.Verify(t.Context(), forge(t, deeper, payload, jwt.SigningMethodHS256, []byte(testSecret)))
	refused(t, "header nested 20000 deep", id, err)
	if err != nil && !strings.Contains(err.Error(), "too large") {
		t.Errorf("header nested 20000 deep: %v, want it refused by size before any decoding", err)
	}
}

// hostileAlgs are the algorithms whose issued tokens the signature and
// cache attacks start from.
var hostileAlgs = []string{"HS256", "RS256", "ES256", "EdDSA"}

// spellings returns tokens that differ from tok, a valid token, in their
// signature or framing only; each must be refused.
func spellings(t testing.TB, tok string) map[string]string {
	t.Helper()
	parts := strings.Split(tok, ".")
	h, p, s := parts[0], parts[1], parts[2]
	sig, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	reencode := func(f func([]byte)) string {
		b := append([]byte(nil), sig...)
		f(b)
		return h + "." + p + "." + b64(b)
	}
	// The last character carries fewer than 6 bits of the signature; the
	// rest must be 0 (RFC 4648 §3.5). Setting them spells the same bytes
	// in a non-canonical way that a lax decoder accepts.
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", s[len(s)-1])
	spare := 6 - (len(sig)*8)%6
	nonCanonical := s[:len(s)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|(1<<spare-1)])
	if b, err := base64.RawURLEncoding.DecodeString(nonCanonical); err != nil || string(b) != string(sig) {
		t.Fatalf("the non-canonical spelling does not decode to the signature: %v", err)
	}
	std := strings.NewReplacer("-", "+", "_", "/").Replace(s)
	return map[string]string{
		"signature: first byte flipped":          reencode(func(b []byte) { b[0] ^= 0x01 }),
		"signature: last byte flipped":           reencode(func(b []byte) { b[len(b)-1] ^= 0x80 }),
		"signature: one byte short":              reencode(func(b []byte) {})[:len(h)+len(p)+2] + b64(sig[:len(sig)-1]),
		"signature: one byte more":               h + "." + p + "." + b64(append(append([]byte(nil), sig...), 0)),
		"signature: zeros":                       reencode(func(b []byte) { clear(b) }),
		"signature: last character dropped":      tok[:len(tok)-1],
		"signature: last 4 characters dropped":   tok[:len(tok)-4],
		"signature: half":                        h + "." + p + "." + s[:len(s)/2],
		"signature: empty":                       h + "." + p + ".",
		"signature: padded =":                    tok + "=",
		"signature: padded ==":                   tok + "==",
		"signature: padded std encoding":         h + "." + p + "." + base64.StdEncoding.EncodeToString(sig),
		"signature: raw std encoding":            h + "." + p + "." + base64.RawStdEncoding.EncodeToString(sig),
		"signature: std alphabet":                h + "." + p + "." + std + "+/",
		"signature: non-canonical trailing bits": h + "." + p + "." + nonCanonical,
		"signature: twice":                       tok + s,
		"signature: space inside":                h + "." + p + "." + s[:5] + " " + s[5:],
		"signature: tab inside":                  h + "." + p + "." + s[:5] + "\t" + s[5:],
		"signature: NUL at the end":              tok + "\x00",
		"header: padded":                         h + "=." + p + "." + s,
		"payload: padded":                        h + "." + p + "=." + s,
		"payload: std encoding":                  h + "." + base64.StdEncoding.EncodeToString(mustDecode(t, p)) + "." + s,
		"leading space":                          " " + tok,
		"trailing space":                         tok + " ",
		"trailing tab":                           tok + "\t",
		"Bearer prefix":                          "Bearer " + tok,
		"quoted":                                 `"` + tok + `"`,
		"four segments":                          tok + ".e30",
		"five segments":                          tok + ".e30.e30",
		"trailing dot":                           tok + ".",
		"two trailing dots":                      tok + "..",
		"leading dot":                            "." + tok,
		"double dot inside":                      h + ".." + p + "." + s,
		"no payload":                             h + ".." + s,
		"no header":                              "." + p + "." + s,
		"two segments":                           h + "." + p,
		"header.signature":                       h + "." + s,
		"one segment":                            h + p + s,
		"dots only":                              "..",
		"JWE-shaped":                             h + ".." + p + ".." + s,
	}
}

func mustDecode(t testing.TB, seg string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Tampered, truncated, empty, padded, standard-alphabet, non-canonical
// and badly framed spellings of a valid token are all refused, the
// token itself being in the verified-token cache, for each algorithm.
func TestHostileSignatures(t *testing.T) {
	t.Parallel()
	for _, alg := range hostileAlgs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			j := hostileJWT(t, c, testConfig(withAlg(alg)))
			tok := issue(t, j, alice)
			for range 2 { // the second from the cache
				if _, err := j.Verify(t.Context(), tok); err != nil {
					t.Fatal(err)
				}
			}
			for name, bad := range spellings(t, tok) {
				if bad == tok {
					// The standard encodings, of a signature with no
					// '-' or '_' (a quarter of HS256 ones).
					continue
				}
				id, err := j.Verify(t.Context(), bad)
				refused(t, name, id, err)
			}
			if _, err := j.Verify(t.Context(), tok); err != nil {
				t.Fatalf("the token after its spellings: %v", err)
			}
		})
	}
}

// An altered claim set is refused before it is decoded: a payload that
// is not even JSON fails on the signature.
func TestHostileClaimsNotReadBeforeSignature(t *testing.T) {
	t.Parallel()
	c := newClock()
	j := hostileJWT(t, c, testConfig())
	parts := strings.Split(issue(t, j, alice), ".")
	for _, payload := range []string{`not json`, `{"sub":`, strings.Repeat("[", 3000)} {
		id, err := j.Verify(t.Context(), parts[0]+"."+b64([]byte(payload))+"."+parts[2])
		refused(t, payload[:min(len(payload), 10)], id, err, jwt.ErrTokenSignatureInvalid)
	}
}

// Claim sets signed with the configured key: times around the leeway,
// times of the wrong type or out of range, wrong or missing iss, aud,
// sub and jti, duplicate keys (the last counts, RFC 7519 §4), a BOM,
// and JSON that is not an object. The clock is fixed; leeway 30s.
func TestHostileClaims(t *testing.T) {
	t.Parallel()
	c := newClock()
	now := c.Now()
	j := hostileJWT(t, c, testConfig())
	header := `{"alg":"HS256","kid":"` + j.KeyID() + `"}`
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	drop := func(k string) func(map[string]any) { return func(m map[string]any) { delete(m, k) } }
	base := claimSet(now, nil)
	raw := func(s string) string { return base[:len(base)-1] + "," + s + "}" }
	type tc struct {
		payload string
		want    error // nil: accepted; auth.ErrInvalidToken: refused, no more said
	}
	cases := map[string]tc{
		"valid":                     {base, nil},
		"exp past the leeway":       {claimSet(now, set("exp", at(-31*time.Second))), jwt.ErrTokenExpired},
		"exp at the leeway":         {claimSet(now, set("exp", at(-30*time.Second))), jwt.ErrTokenExpired},
		"exp within the leeway":     {claimSet(now, set("exp", at(-29*time.Second))), nil},
		"exp an hour ago":           {claimSet(now, set("exp", at(-time.Hour))), jwt.ErrTokenExpired},
		"exp missing":               {claimSet(now, drop("exp")), jwt.ErrTokenRequiredClaimMissing},
		"exp null":                  {claimSet(now, set("exp", nil)), jwt.ErrTokenRequiredClaimMissing},
		"exp a string":              {claimSet(now, set("exp", fmt.Sprint(at(time.Hour)))), jwt.ErrTokenMalformed},
		"exp true":                  {claimSet(now, set("exp", true)), jwt.ErrTokenMalformed},
		"exp an array":              {claimSet(now, set("exp", []int64{at(time.Hour)})), jwt.ErrTokenMalformed},
		"exp an object":             {claimSet(now, set("exp", map[string]any{"$gt": 0})), jwt.ErrTokenMalformed},
		"exp a fraction":            {claimSet(now, set("exp", float64(at(time.Minute))+0.5)), nil},
		"exp 0":                     {claimSet(now, set("exp", 0)), jwt.ErrTokenExpired},
		"exp -1":                    {claimSet(now, set("exp", -1)), jwt.ErrTokenExpired},
		"exp 1e400 (not a float64)": {raw(`"exp":1e400`), jwt.ErrTokenMalformed},
		"exp NaN":                   {raw(`"exp":NaN`), jwt.ErrTokenMalformed},
		"exp Infinity":              {raw(`"exp":Infinity`), jwt.ErrTokenMalformed},
		"exp hex":                   {raw(`"exp":0x7fffffff`), jwt.ErrTokenMalformed},
		"nbf past the leeway":       {claimSet(now, set("nbf", at(31*time.Second))), jwt.ErrTokenNotValidYet},
		"nbf within the leeway":     {claimSet(now, set("nbf", at(29*time.Second))), nil},
		"nbf missing":               {claimSet(now, drop("nbf")), nil},
		"nbf a string":              {claimSet(now, set("nbf", "0")), jwt.ErrTokenMalformed},
		"iat past the leeway":       {claimSet(now, set("iat", at(31*time.Second))), jwt.ErrTokenUsedBeforeIssued},
		"iat within the leeway":     {claimSet(now, set("iat", at(29*time.Second))), nil},
		"iat a string":              {claimSet(now, set("iat", "0")), jwt.ErrTokenMalformed},
		"iss wrong":                 {claimSet(now, set("iss", "evil")), jwt.ErrTokenInvalidIssuer},
		"iss another case":          {claimSet(now, set("iss", "TEST")), jwt.ErrTokenInvalidIssuer},
		"iss with a space":          {claimSet(now, set("iss", "test ")), jwt.ErrTokenInvalidIssuer},
		"iss empty":                 {claimSet(now, set("iss", "")), jwt.ErrTokenRequiredClaimMissing},
		"iss missing":               {claimSet(now, drop("iss")), jwt.ErrTokenRequiredClaimMissing},
		"iss an array":              {claimSet(now, set("iss", []string{"test"})), jwt.ErrTokenMalformed},
		"iss a number":              {claimSet(now, set("iss", 1)), jwt.ErrTokenMalformed},
		"aud wrong":                 {claimSet(now, set("aud", "other")), jwt.ErrTokenInvalidAudience},
		"aud another case":          {claimSet(now, set("aud", "Test")), jwt.ErrTokenInvalidAudience},
		"aud missing":               {claimSet(now, drop("aud")), jwt.ErrTokenRequiredClaimMissing},
		"aud empty":                 {claimSet(now, set("aud", "")), jwt.ErrTokenRequiredClaimMissing},
		"aud empty array":           {claimSet(now, set("aud", []string{})), jwt.ErrTokenRequiredClaimMissing},
		"aud others only":           {claimSet(now, set("aud", []string{"other", "tests", "tes"})), jwt.ErrTokenInvalidAudience},
		"aud a number":              {claimSet(now, set("aud", 1)), jwt.ErrTokenMalformed},
		"aud an array of numbers":   {claimSet(now, set("aud", []int{1})), jwt.ErrTokenMalformed},
		"aud an object":             {claimSet(now, set("aud", map[string]string{"test": "test"})), jwt.ErrTokenMalformed},
		"aud containing ours":       {claimSet(now, set("aud", []string{"other", "test", "third"})), nil}, // docs: aud contains auth.audience
		"aud [ours]":                {claimSet(now, set("aud", []string{"test"})), nil},
		"sub missing":               {claimSet(now, drop("sub")), auth.ErrInvalidToken},
		"sub empty":                 {claimSet(now, set("sub", "")), auth.ErrInvalidToken},
		"sub null":                  {claimSet(now, set("sub", nil)), auth.ErrInvalidToken},
		"sub a number":              {claimSet(now, set("sub", 42)), jwt.ErrTokenMalformed},
		"sub an array":              {claimSet(now, set("sub", []string{"alice"})), jwt.ErrTokenMalformed},
		"jti missing":               {claimSet(now, drop("jti")), auth.ErrInvalidToken},
		"jti empty":                 {claimSet(now, set("jti", "")), auth.ErrInvalidToken},
		"jti a number":              {claimSet(now, set("jti", 1)), jwt.ErrTokenMalformed},
		"roles a string":            {claimSet(now, set("roles", "admin")), jwt.ErrTokenMalformed},
		"exp twice, the last past":  {raw(fmt.Sprintf(`"exp":%d`, at(-time.Hour))), jwt.ErrTokenExpired},
		"aud twice, the last wrong": {raw(`"aud":"other"`), jwt.ErrTokenInvalidAudience},
		"iss twice, the last wrong": {raw(`"iss":"evil"`), jwt.ErrTokenInvalidIssuer},
		"sub twice, the last null":  {raw(`"sub":null`), auth.ErrInvalidToken},
		"BOM":                       {"\ufeff" + base, jwt.ErrTokenMalformed},
		"array":                     {`[` + base + `]`, jwt.ErrTokenMalformed},
		"string":                    {`"` + base + `"`, jwt.ErrTokenMalformed},
		"null":                      {`null`, jwt.ErrTokenRequiredClaimMissing},
		"number":                    {`1`, jwt.ErrTokenMalformed},
		"empty":                     {``, jwt.ErrTokenMalformed},
		"trailing garbage":          {base + `x`, jwt.ErrTokenMalformed},
		"two objects":               {base + base, jwt.ErrTokenMalformed},
		"invalid UTF-8 in a claim":  {raw("\"x\":\"\xff\""), nil}, // encoding/json replaces it with U+FFFD
	}
	for name, tc := range cases {
		want := tc.want
		tok := forge(t, header, tc.payload, jwt.SigningMethodHS256, []byte(testSecret))
		id, err := j.Verify(t.Context(), tok)
		switch {
		case want == nil && err != nil:
			t.Errorf("%s: %v, want it accepted", name, err)
		case want == nil && id.Subject != "mallory":
			t.Errorf("%s: subject %q", name, id.Subject)
		case want != nil:
			refused(t, name, id, err, want)
		}
	}
}

// A token over auth.max_token_bytes is refused before any work: a 1 MB
// token, well formed but for its size, fails with "too large", not on
// its encoding or signature; at the bound, a valid token passes.
func TestHostileSize(t *testing.T) {
	t.Parallel()
	c := newClock()
	j := hostileJWT(t, c, testConfig())
	header := `{"alg":"HS256","kid":"` + j.KeyID() + `"}`
	huge := forge(t, header, claimSet(c.Now(), func(m map[string]any) { m["pad"] = strings.Repeat("x", 1<<20) }), jwt.SigningMethodHS256, []byte(testSecret))
	for name, tok := range map[string]string{
		"1 MB, signed": huge, "1 MB of dots": strings.Repeat(".", 1<<20), "1 MB, bad base64": strings.Repeat("$", 1<<20),
	} {
		id, err := j.Verify(t.Context(), tok)
		refused(t, name, id, err)
		if err != nil && !strings.Contains(err.Error(), "too large") {
			t.Errorf("%s: %v, want it refused for its size", name, err)
		}
	}
	// The largest padded token within the bound verifies; one more byte
	// of padding, and the token is over it.
	var fits string
	for n := 0; ; n++ {
		tok := forge(t, header, claimSet(c.Now(), func(m map[string]any) { m["pad"] = strings.Repeat("x", n) }), jwt.SigningMethodHS256, []byte(testSecret))
		if len(tok) > auth.DefaultMaxTokenBytes {
			id, err := j.Verify(t.Context(), tok)
			refused(t, fmt.Sprintf("%d bytes", len(tok)), id, err)
			break
		}
		fits = tok
	}
	if _, err := j.Verify(t.Context(), fits); err != nil || len(fits) < auth.DefaultMaxTokenBytes-3 {
		t.Errorf("a valid token of %d bytes: %v, want it accepted", len(fits), err)
	}
}

// The verified-token cache never outlives a check: a cached token is
// refused at once when it is revoked or its subject's sessions end, on
// the same instance, and from exp plus the leeway on, for each
// algorithm.
func TestHostileCache(t *testing.T) {
	t.Parallel()
	for _, alg := range hostileAlgs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			j := hostileJWT(t, c, testConfig(withAlg(alg)))
			cached := func(tok string) auth.Identity {
				t.Helper()
				var id auth.Identity
				for range 2 {
					var err error
					if id, err = j.Verify(t.Context(), tok); err != nil {
						t.Fatalf("a valid token: %v", err)
					}
				}
				return id
			}
			revoked := issue(t, j, alice)
			id := cached(revoked)
			if err := j.Revoke(t.Context(), auth.RevokeParams{Access: id}); err != nil {
				t.Fatal(err)
			}
			id, err := j.Verify(t.Context(), revoked)
			refused(t, "revoked", id, err, auth.ErrRevoked)

			ended := issue(t, j, alice)
			cached(ended)
			c.Add(time.Millisecond) // EverySessionOf ends sessions begun before its millisecond
			if err := j.Revoke(t.Context(), auth.RevokeParams{EverySessionOf: alice.Subject}); err != nil {
				t.Fatal(err)
			}
			id, err = j.Verify(t.Context(), ended)
			refused(t, "subject's sessions ended", id, err, auth.ErrRevoked)

			c.Add(time.Millisecond)
			expiring := issue(t, j, alice)
			exp := cached(expiring).ExpiresAt
			c.Set(exp.Add(29 * time.Second))
			if _, err := j.Verify(t.Context(), expiring); err != nil {
				t.Fatalf("within the leeway after exp: %v", err)
			}
			c.Set(exp.Add(30 * time.Second))
			id, err = j.Verify(t.Context(), expiring)
			refused(t, "cached, at exp plus the leeway", id, err, jwt.ErrTokenExpired)
			c.Set(exp.Add(-time.Minute)) // the cache dropped it: parsed again
			if _, err := j.Verify(t.Context(), expiring); err != nil {
				t.Fatalf("before exp again: %v", err)
			}
			c.Set(exp.Add(time.Hour))
			id, err = j.Verify(t.Context(), expiring)
			refused(t, "parsed, an hour after exp", id, err, jwt.ErrTokenExpired)
		})
	}
}

// ECDSA signatures are malleable: (r, n−s) verifies wherever (r, s)
// does, so an ES256 token has a second valid spelling that is another
// key of the verified-token cache. That cannot be refused without
// refusing tokens of signers that do not normalise s (Go's crypto/ecdsa
// does not), so what matters is that the twin is the same token to every
// check: revoked with it, and expired with it.
func TestHostileECDSATwin(t *testing.T) {
	t.Parallel()
	c := newClock()
	j := hostileJWT(t, c, testConfig(withAlg("ES256")))
	twin := func(tok string) string {
		parts := strings.Split(tok, ".")
		sig := mustDecode(t, parts[2])
		s := new(big.Int).SetBytes(sig[32:])
		s.Sub(elliptic.P256().Params().N, s)
		out := append(append([]byte(nil), sig[:32]...), s.FillBytes(make([]byte, 32))...)
		return parts[0] + "." + parts[1] + "." + b64(out)
	}
	tok := issue(t, j, alice)
	tw := twin(tok)
	if tw == tok {
		t.Fatal("no twin")
	}
	for _, s := range []string{tw, tok, tw} { // each cached
		if _, err := j.Verify(t.Context(), s); err != nil {
			t.Fatalf("a valid ES256 token or its twin: %v", err)
		}
	}
	id, _ := j.Verify(t.Context(), tok)
	if err := j.Revoke(t.Context(), auth.RevokeParams{Access: id}); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{"token": tok, "twin": tw} {
		id, err := j.Verify(t.Context(), s)
		refused(t, "revoked "+name, id, err, auth.ErrRevoked)
	}
	tok = issue(t, j, alice)
	tw = twin(tok)
	id, err := j.Verify(t.Context(), tw)
	if err != nil {
		t.Fatal(err)
	}
	c.Set(id.ExpiresAt.Add(30 * time.Second))
	for name, s := range map[string]string{"token": tok, "twin": tw} {
		id, err := j.Verify(t.Context(), s)
		refused(t, "expired "+name, id, err, jwt.ErrTokenExpired)
	}
}

// encoding/base64 skips CR and LF, even in strict mode: "ab\ncd" decodes
// as "abcd". A line break in the signature segment would thus spell a
// valid token a second way (another key of the verified-token cache, and
// of anything else keyed by the token), and the WebSocket query
// parameter carries one (%0A). Every such spelling is refused.
func TestHostileLineBreaks(t *testing.T) {
	t.Parallel()
	for _, alg := range hostileAlgs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			j := hostileJWT(t, c, testConfig(withAlg(alg)))
			tok := issue(t, j, alice)
			if _, err := j.Verify(t.Context(), tok); err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(tok, ".")
			h, p, s := parts[0], parts[1], parts[2]
			for name, bad := range map[string]string{
				"LF in the signature":        h + "." + p + "." + s[:8] + "\n" + s[8:],
				"CR LF in the signature":     h + "." + p + "." + s[:8] + "\r\n" + s[8:],
				"CR in the signature":        h + "." + p + "." + s[:8] + "\r" + s[8:],
				"LF every 4 characters":      h + "." + p + "." + strings.Join(chunks(s, 4), "\n"),
				"LF ending the signature":    tok + "\n",
				"CR LF ending the signature": tok + "\r\n",
				"LF starting the signature":  h + "." + p + ".\n" + s,
				"LF in the payload":          h + "." + p[:8] + "\n" + p[8:] + "." + s,
				"LF in the header":           h[:8] + "\n" + h[8:] + "." + p + "." + s,
				"LF ending the header":       h + "\n." + p + "." + s,
			} {
				id, err := j.Verify(t.Context(), bad)
				if strings.Contains(name, "payload") { // refused by the signature, over the payload as sent
					refused(t, name, id, err)
					continue
				}
				refused(t, name, id, err, jwt.ErrTokenMalformed)
			}
			// Through the Guard: the WebSocket query parameter.
			e := server(t, newGuard(t, j, func(p *auth.GuardParams) { p.HTTP.QueryParam = "access_token" }), nil)
			for _, q := range []string{tok, h + "." + p + "." + s[:8] + "%0A" + s[8:]} {
				req := httptest.NewRequest(http.MethodGet, "/ws?access_token="+q, nil)
				req.Header.Set("Upgrade", "websocket")
				req.Header.Set("Connection", "Upgrade")
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				if want := map[bool]int{true: 200, false: 401}[q == tok]; rec.Code != want {
					t.Errorf("/ws?access_token=%s: %d, want %d", q, rec.Code, want)
				}
			}
		})
	}
}

func chunks(s string, n int) []string {
	var out []string
	for len(s) > n {
		out, s = append(out, s[:n]), s[n:]
	}
	return append(out, s)
}

// "crit" lists header extensions the recipient must understand or
// refuse the token (RFC 7515 §4.1.11); apex understands none (not even
// RFC 7797's b64), so any crit is refused, with the configured key's
// valid signature.
func TestHostileCrit(t *testing.T) {
	t.Parallel()
	c := newClock()
	for name, set := range keySets(t) {
		if name != "only HS256" && name != "all four" {
			continue
		}
		j := hostileJWT(t, c, set.cfg)
		payload := claimSet(c.Now(), nil)
		for _, kid := range []string{`"kid":"k-sign",`, `"kid":"hs",`, ``} {
			for _, crit := range []string{
				`"crit":["exp-ext"],"exp-ext":1`, `"crit":["b64"],"b64":false`, `"crit":["http://example.com/x"]`,
				`"crit":[]`, `"crit":"exp-ext"`, `"crit":null`, `"crit":["alg"]`, `"crit":["kid"]`, `"crit":["typ"]`,
			} {
				header := `{"alg":"HS256",` + kid + crit + `}`
				id, err := j.Verify(t.Context(), forge(t, header, payload, jwt.SigningMethodHS256, []byte(testSecret)))
				refused(t, name+": "+header, id, err)
			}
			// Without crit, the same header is accepted where the kid
			// names the HS256 key (or there is one key and no kid).
			header := `{"alg":"HS256",` + kid + `"exp-ext":1,"b64":false}`
			_, err := j.Verify(t.Context(), forge(t, header, payload, jwt.SigningMethodHS256, []byte(testSecret)))
			if want := (name == "only HS256") != (kid == `"kid":"hs",`); (err == nil) != want {
				t.Errorf("%s: %s without crit: %v, want accepted %v", name, header, err, want)
			}
		}
	}
}

// A kid that is not a string is not a kid that names a key, nor an
// absent one: refused, also where a token without kid would be checked
// with the one key configured (docs/auth.md: known, or absent with
// exactly one key).
func TestHostileKidNotAString(t *testing.T) {
	t.Parallel()
	c := newClock()
	payload := claimSet(c.Now(), nil)
	for name, set := range keySets(t) {
		if name != "only HS256" && name != "all four" {
			continue
		}
		j := hostileJWT(t, c, set.cfg)
		for _, kid := range []string{`null`, `5`, `0`, `true`, `false`, `["k-sign"]`, `["hs"]`, `{"kid":"hs"}`, `[]`, `{}`, `1e2`} {
			header := `{"alg":"HS256","kid":` + kid + `}`
			id, err := j.Verify(t.Context(), forge(t, header, payload, jwt.SigningMethodHS256, []byte(testSecret)))
			refused(t, name+": "+header, id, err, jwt.ErrTokenUnverifiable)
		}
	}
}

// A NumericDate outside years 1 to 9999 is refused as malformed. Beyond
// int64 seconds, Go's float-to-int conversion is implementation-defined
// (amd64 gives the least int64, arm64 saturates), so such a date meant
// whatever the platform made of it: on amd64 "nbf":1e300 (never valid)
// read as the distant past and verified, and "exp":9.2e18 (an int64, but
// past time.Time's range once offset) verified for ever. Each case runs
// through both claim decodes (known claims only, and with a custom claim).
func TestHostileDates(t *testing.T) {
	t.Parallel()
	c := newClock()
	now := c.Now()
	j := hostileJWT(t, c, testConfig(func(c *auth.Config) { c.VerifyCacheSize = 0 }))
	header := `{"alg":"HS256","kid":"` + j.KeyID() + `"}`
	const year1, year9999 = -62135596800, 253402300799 // 0001-01-01T00:00:00Z, 9999-12-31T23:59:59Z
	for name, tc := range map[string]struct {
		claim string
		value float64
		ok    bool
	}{
		"exp at the end of year 9999": {"exp", year9999, true},
		"exp a second later":          {"exp", year9999 + 1, false},
		"exp 9.2e18":                  {"exp", 9.2e18, false},
		"exp 1e19":                    {"exp", 1e19, false},
		"exp 1e300":                   {"exp", 1e300, false},
		"exp -1e300":                  {"exp", -1e300, false},
		"nbf at the start of year 1":  {"nbf", year1, true},
		"nbf a second earlier":        {"nbf", year1 - 1, false},
		"nbf 9.2e18":                  {"nbf", 9.2e18, false},
		"nbf 1e300":                   {"nbf", 1e300, false},
		"nbf -1e300":                  {"nbf", -1e300, false},
		"iat at the start of year 1":  {"iat", year1, true},
		"iat 1e17":                    {"iat", 1e17, false},
		"iat 1e300":                   {"iat", 1e300, false},
		"iat -1e300":                  {"iat", -1e300, false},
	} {
		for _, custom := range []bool{false, true} {
			payload := claimSet(now, func(m map[string]any) {
				m[tc.claim] = tc.value
				if custom {
					m["plan"] = "pro"
				}
			})
			id, err := j.Verify(t.Context(), forge(t, header, payload, jwt.SigningMethodHS256, []byte(testSecret)))
			label := fmt.Sprintf("%s, custom claim %v", name, custom)
			if tc.ok {
				if err != nil {
					t.Errorf("%s: %v, want it accepted", label, err)
				}
				continue
			}
			refused(t, label, id, err, jwt.ErrTokenMalformed)
		}
	}
}

// A token without iat (another issuer's, through auth.verify_keys) is not
// out of reach of EverySessionOf: with no issue time (the zero time), it
// counts as issued before any "not before". Tested on the memory store;
// the Redis store compares the zero time's UnixMilli, which is as early.
func TestHostileNoIatEndsWithSessions(t *testing.T) {
	t.Parallel()
	c := newClock()
	j := hostileJWT(t, c, testConfig())
	header := `{"alg":"HS256","kid":"` + j.KeyID() + `"}`
	tok := forge(t, header, claimSet(c.Now(), func(m map[string]any) { delete(m, "iat") }), jwt.SigningMethodHS256, []byte(testSecret))
	if _, err := j.Verify(t.Context(), tok); err != nil {
		t.Fatalf("a token without iat: %v", err)
	}
	c.Add(time.Millisecond)
	if err := j.Revoke(t.Context(), auth.RevokeParams{EverySessionOf: "mallory"}); err != nil {
		t.Fatal(err)
	}
	id, err := j.Verify(t.Context(), tok)
	refused(t, "no iat, after EverySessionOf", id, err, auth.ErrRevoked)
}
