package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
)

// noKid is what an issuer with a single key usually makes: an HS256
// token without a "kid" header.
func noKid(t *testing.T) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(testSecret)}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := josejwt.Signed(signer).Claims(josejwt.Claims{
		Issuer: "test", Subject: "bob", Audience: josejwt.Audience{"test"}, ID: "no-kid-1",
		IssuedAt: josejwt.NewNumericDate(now), Expiry: josejwt.NewNumericDate(now.Add(time.Minute)),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// With exactly one verification key, a token without kid is checked with
// it; with several, it is refused and the log says why.
func TestTokenWithoutKid(t *testing.T) {
	t.Parallel()
	tok := noKid(t)
	one := newJWT(t, testConfig())
	id, err := one.Verify(t.Context(), tok)
	if err != nil || id.Subject != "bob" {
		t.Fatalf("a token without kid, one key configured: %+v, %v", id, err)
	}

	core, logs := observer.New(zap.WarnLevel)
	several := newJWT(t, testConfig(withAlg("EdDSA"), func(c *auth.Config) {
		c.VerifyKeys = map[string]auth.VerifyKey{"old": {Algorithm: "HS256", Secret: app.NewSecret(testSecret)}}
	}), func(p *auth.Params) { p.Log = zap.New(core) })
	for range 3 {
		if _, err := several.Verify(t.Context(), tok); !errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), "kid") {
			t.Fatalf("a token without kid, two keys configured: %v, want ErrInvalidToken saying kid", err)
		}
	}
	warns := logs.FilterMessageSnippet("without a kid").All()
	if len(warns) != 1 || !strings.Contains(warns[0].Message, "auth.verify_keys") {
		t.Fatalf("want one WARN naming auth.verify_keys about tokens without a kid, got %v", logs.All())
	}
	// A wrong kid is still refused with one key.
	bad, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(testSecret)}, (&jose.SignerOptions{}).WithHeader("kid", "other"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	wrong, err := josejwt.Signed(bad).Claims(josejwt.Claims{
		Issuer: "test", Subject: "bob", Audience: josejwt.Audience{"test"}, ID: "x", IssuedAt: josejwt.NewNumericDate(now), Expiry: josejwt.NewNumericDate(now.Add(time.Minute)),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := one.Verify(t.Context(), wrong); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("a token with an unknown kid: %v, want ErrInvalidToken", err)
	}
}
