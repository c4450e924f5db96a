package auth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/auth/memory"
	"github.com/apexgo/apex/httpx"
)

const testSecret = "0123456789abcdef0123456789abcdef-test"

// testKeys are generated once: RSA key generation is slow.
var testKeys = struct {
	rsa     *rsa.PrivateKey
	ec      *ecdsa.PrivateKey
	ed      ed25519.PrivateKey
	rsaPEM  string
	ecPEM   string
	edPEM   string
	rsaPub  string
	edPub   string
	rsaPub1 string // PKCS#1 form
}{}

func init() {
	var err error
	if testKeys.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if testKeys.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	_, testKeys.ed, _ = ed25519.GenerateKey(rand.Reader)
	testKeys.rsaPEM = pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(testKeys.rsa))
	ecDER, _ := x509.MarshalECPrivateKey(testKeys.ec)
	testKeys.ecPEM = pemOf("EC PRIVATE KEY", ecDER)
	edDER, _ := x509.MarshalPKCS8PrivateKey(testKeys.ed)
	testKeys.edPEM = pemOf("PRIVATE KEY", edDER)
	rsaPub, _ := x509.MarshalPKIXPublicKey(&testKeys.rsa.PublicKey)
	testKeys.rsaPub = pemOf("PUBLIC KEY", rsaPub)
	testKeys.rsaPub1 = pemOf("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&testKeys.rsa.PublicKey))
	edPub, _ := x509.MarshalPKIXPublicKey(testKeys.ed.Public())
	testKeys.edPub = pemOf("PUBLIC KEY", edPub)
}

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// testConfig is an HS256 config for issuer and audience "test".
func testConfig(tweak ...func(*auth.Config)) auth.Config {
	c := auth.DefaultConfig()
	c.Issuer, c.Audience = "test", "test"
	c.Secret = app.NewSecret(testSecret)
	for _, f := range tweak {
		if f != nil {
			f(&c)
		}
	}
	return c
}

func withAlg(alg string) func(*auth.Config) {
	return func(c *auth.Config) {
		c.Algorithm = alg
		c.Secret = app.Secret{}
		switch alg {
		case "RS256":
			c.PrivateKey = app.NewSecret(testKeys.rsaPEM)
		case "ES256":
			c.PrivateKey = app.NewSecret(testKeys.ecPEM)
		case "EdDSA":
			c.PrivateKey = app.NewSecret(testKeys.edPEM)
		case "HS256":
			c.Secret = app.NewSecret(testSecret)
		}
	}
}

// newJWT returns tokens on fresh memory stores.
func newJWT(t testing.TB, cfg auth.Config, p ...func(*auth.Params)) *auth.JWT {
	t.Helper()
	params := auth.Params{
		Config: cfg, Revocations: memory.NewRevocations(memory.Config{}), Refresh: memory.NewRefresh(memory.Config{}),
	}
	for _, f := range p {
		f(&params)
	}
	j, err := auth.New(params)
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	return j
}

// at shifts a JWT's clock.
func at(d time.Duration) func(*auth.Params) {
	return func(p *auth.Params) { p.Now = func() time.Time { return time.Now().Add(d) } }
}

// server is an echo with apex's error handler and routes behind g:
// /me (Authenticate), /admin (RequireRole admin), /reports
// (RequirePermission reports:read), /any (RequireAnyRole), /optional,
// /ws (AuthenticateWebSocket).
func server(t testing.TB, g *auth.Guard, log *zap.Logger) *echo.Echo {
	t.Helper()
	if log == nil {
		log = zap.NewNop()
	}
	h, err := httpx.NewErrorHandler(log, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = h.Handle
	me := func(c echo.Context) error {
		id, ok := auth.FromContext(c.Request().Context())
		if !ok {
			return c.String(http.StatusOK, "anonymous")
		}
		return c.String(http.StatusOK, id.Subject)
	}
	e.GET("/me", me, g.Authenticate())
	e.GET("/admin", me, g.RequireRole("admin"))
	e.GET("/reports", me, g.RequirePermission("reports:read"))
	e.GET("/any", me, g.RequireAnyRole("editor", "admin"))
	e.GET("/optional", me, g.Optional())
	e.GET("/ws", me, g.AuthenticateWebSocket())
	grp := e.Group("/group", g.Authenticate(), g.RequireRole("admin"))
	grp.GET("/x", me)
	return e
}

func newGuard(t testing.TB, tokens auth.Tokens, tweak ...func(*auth.GuardParams)) *auth.Guard {
	t.Helper()
	p := auth.GuardParams{
		Tokens: tokens, HTTP: auth.HTTPConfig{Realm: "test"},
		Permissions: map[string][]string{"auditor": {"reports:read"}, "admin": {"reports:read", "users:write"}},
	}
	for _, f := range tweak {
		f(&p)
	}
	g, err := auth.NewGuard(p)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// get sends a GET with the header pairs to e.
func get(e *echo.Echo, path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }
