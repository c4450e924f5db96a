package auth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/httpx"
)

func issue(t testing.TB, j *auth.JWT, p auth.Principal) string {
	t.Helper()
	pair, err := j.Issue(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return pair.AccessToken
}

func TestGuardRoutes(t *testing.T) {
	t.Parallel()
	j := newJWT(t, testConfig())
	e := server(t, newGuard(t, j), nil)
	admin := issue(t, j, auth.Principal{Subject: "ada", Roles: []string{"admin"}})
	auditor := issue(t, j, auth.Principal{Subject: "aud", Roles: []string{"auditor"}})
	nobody := issue(t, j, auth.Principal{Subject: "nob"})
	for _, tc := range []struct {
		path, token string
		status      int
		body        string
	}{
		{"/me", admin, 200, "ada"},
		{"/me", nobody, 200, "nob"},
		{"/me", "", 401, ""},
		{"/admin", admin, 200, "ada"},
		{"/admin", auditor, 403, ""},
		{"/admin", "", 401, ""},
		{"/reports", auditor, 200, "aud"},
		{"/reports", admin, 200, "ada"},
		{"/reports", nobody, 403, ""},
		{"/any", admin, 200, "ada"},
		{"/any", auditor, 403, ""},
		{"/optional", "", 200, "anonymous"},
		{"/optional", nobody, 200, "nob"},
		{"/optional", "garbage.token.x", 401, ""},
		{"/group/x", admin, 200, "ada"},
		{"/group/x", auditor, 403, ""},
	} {
		var h []string
		if tc.token != "" {
			h = bearer(tc.token)
		}
		rec := get(e, tc.path, h...)
		if rec.Code != tc.status || (tc.body != "" && rec.Body.String() != tc.body) {
			t.Errorf("%s with %q: %d %s, want %d %s", tc.path, tc.token, rec.Code, rec.Body, tc.status, tc.body)
		}
		wa := rec.Header().Get("WWW-Authenticate")
		switch tc.status {
		case 401:
			if tc.token == "" && wa != `Bearer realm="test"` {
				t.Errorf("%s without a token: WWW-Authenticate %q, want no error code (RFC 6750 §3.1)", tc.path, wa)
			}
		case 403:
			if wa != `Bearer realm="test", error="insufficient_scope"` {
				t.Errorf("%s: WWW-Authenticate %q", tc.path, wa)
			}
		}
	}
}

func TestGuardTokenSources(t *testing.T) {
	t.Parallel()
	j := newJWT(t, testConfig())
	tok := issue(t, j, auth.Principal{Subject: "ada"})
	e := server(t, newGuard(t, j, func(p *auth.GuardParams) { p.HTTP.Cookie, p.HTTP.QueryParam = "session", "access_token" }), nil)
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"lower-case scheme", func() *http.Request { return header("Authorization", "bearer "+tok) }, 200},
		{"cookie", func() *http.Request {
			r := header()
			r.AddCookie(&http.Cookie{Name: "session", Value: tok})
			return r
		}, 200},
		// The query parameter: on WebSocket upgrades to the routes of
		// AuthenticateWebSocket only, not on any route a client sends
		// upgrade headers to.
		{"query on a WebSocket upgrade route", func() *http.Request { return upgrade("/ws?access_token=" + tok) }, 200},
		{"query on a plain request to a WebSocket route", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/ws?access_token="+tok, nil) }, 401},
		{"query with upgrade headers on Authenticate", func() *http.Request { return upgrade("/me?access_token=" + tok) }, 401},
		{"query with upgrade headers on Optional", func() *http.Request { return upgrade("/optional?access_token=" + tok) }, 200},
		{"query with upgrade headers on RequireAnyRole", func() *http.Request { return upgrade("/any?access_token=" + tok) }, 401},
		{"query on a plain request", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/me?access_token="+tok, nil) }, 401},
		{"basic scheme", func() *http.Request { return header("Authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l") }, 401},
		{"two headers", func() *http.Request {
			r := header("Authorization", "Bearer "+tok)
			r.Header.Add("Authorization", "Bearer "+tok)
			return r
		}, 401},
		{"a bad header wins over a good cookie", func() *http.Request {
			r := header("Authorization", "Bearer x y")
			r.AddCookie(&http.Cookie{Name: "session", Value: tok})
			return r
		}, 401},
	} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, tc.req())
		if rec.Code != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.status)
		}
	}
	// Without the settings, neither cookie nor query is read.
	plain := server(t, newGuard(t, j), nil)
	r := header()
	r.AddCookie(&http.Cookie{Name: "session", Value: tok})
	rec := httptest.NewRecorder()
	plain.ServeHTTP(rec, r)
	if rec.Code != 401 {
		t.Errorf("cookie without auth.http.cookie: %d", rec.Code)
	}
}

// upgrade is a WebSocket upgrade request for target.
func upgrade(target string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Connection", "keep-alive, Upgrade")
	return r
}

func header(kv ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/me", nil)
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header.Set(kv[i], kv[i+1])
	}
	return r
}

// With a tenant on the request (the data module's tenancy), the token's
// tenant must match.
func TestGuardTenant(t *testing.T) {
	t.Parallel()
	j := newJWT(t, testConfig())
	e := server(t, newGuard(t, j), nil)
	e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if tn := c.Request().Header.Get("X-Tenant"); tn != "" {
				c.SetRequest(c.Request().WithContext(app.WithTenant(c.Request().Context(), tn)))
			}
			return next(c)
		}
	})
	acme := issue(t, j, auth.Principal{Subject: "ada", Tenant: "acme", Roles: []string{"admin"}})
	for _, tc := range []struct {
		tenant string
		path   string
		status int
	}{{"acme", "/me", 200}, {"globex", "/me", 403}, {"", "/me", 200}, {"globex", "/admin", 403}} {
		rec := get(e, tc.path, "Authorization", "Bearer "+acme, "X-Tenant", tc.tenant)
		if rec.Code != tc.status {
			t.Errorf("tenant %q on %s: %d, want %d", tc.tenant, tc.path, rec.Code, tc.status)
		}
	}
	untenanted := issue(t, j, auth.Principal{Subject: "ada"})
	if rec := get(e, "/me", "Authorization", "Bearer "+untenanted, "X-Tenant", "acme"); rec.Code != 403 {
		t.Errorf("a token without tenant on a tenant's request: %d, want 403", rec.Code)
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Bearer abc":      "abc",
		"BEARER a.b-c_d~": "a.b-c_d~",
		"Bearer  abc==":   "abc==",
		"Bearer ":         "",
		"Bearer":          "",
		"Bearer a b":      "",
		"Bearer =abc":     "",
		"Basic abc":       "",
		"Bearer a\x00b":   "",
		"Bearerabc":       "",
	} {
		got, ok := auth.BearerToken(in)
		if got != want || ok != (want != "") {
			t.Errorf("BearerToken(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestWithIdentity(t *testing.T) {
	t.Parallel()
	if _, ok := auth.FromContext(context.Background()); ok {
		t.Fatal("identity in an empty context")
	}
	id, ok := auth.FromContext(auth.WithIdentity(context.Background(), auth.Identity{Principal: auth.Principal{Subject: "s"}}))
	if !ok || id.Subject != "s" {
		t.Fatalf("FromContext(WithIdentity) = %+v, %v", id, ok)
	}
	g := newGuard(t, newJWT(t, testConfig()))
	if !g.Can(auth.Identity{Principal: auth.Principal{Roles: []string{"auditor"}}}, "reports:read") ||
		g.Can(auth.Identity{Principal: auth.Principal{Roles: []string{"auditor"}}}, "users:write") {
		t.Fatal("Can does not follow auth.permissions")
	}
}

// FuzzGuardToken sends arbitrary Authorization headers (and cookies)
// through the middleware: the answer is 200 for the valid token, 401 for
// anything else, never a panic or a 500.
func FuzzGuardToken(f *testing.F) {
	j := newJWT(f, testConfig())
	valid := issue(f, j, auth.Principal{Subject: "ada"})
	e := server(f, newGuard(f, j, func(p *auth.GuardParams) { p.HTTP.Cookie = "s" }), nil)
	parts := strings.Split(valid, ".")
	for _, s := range []string{
		"Bearer " + valid, "bearer " + valid, "Bearer " + valid + "x", "Bearer " + parts[0] + "." + parts[1] + ".",
		"Bearer ..", "Bearer", "Bearer  ", "Basic x", "Bearer a.b.c", "Bearer eyJhbGciOiJub25lIn0.e30.",
		"Bearer " + strings.Repeat("A", 9000), "", "\x00", "Bearer é",
	} {
		f.Add(s, "")
	}
	f.Add("", valid)
	f.Fuzz(func(t *testing.T, authz, cookie string) {
		req := httptest.NewRequest(http.MethodGet, "/me", nil)
		if authz != "" {
			req.Header["Authorization"] = []string{authz}
		}
		if cookie != "" {
			req.Header["Cookie"] = []string{"s=" + cookie}
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			if rec.Body.String() != "ada" {
				t.Fatalf("200 with body %q", rec.Body)
			}
		case http.StatusUnauthorized:
			if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("401 without a Bearer challenge: %v", rec.Header())
			}
		default:
			t.Fatalf("Authorization %q, cookie %q: status %d %s", authz, cookie, rec.Code, rec.Body)
		}
	})
}

// Every problem the Guard answers carries a code a client can switch on.
func TestGuardProblemCodes(t *testing.T) {
	t.Parallel()
	j := newJWT(t, testConfig())
	e := server(t, newGuard(t, j), nil)
	e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if tn := c.Request().Header.Get("X-Tenant"); tn != "" {
				c.SetRequest(c.Request().WithContext(app.WithTenant(c.Request().Context(), tn)))
			}
			return next(c)
		}
	})
	nobody := issue(t, j, auth.Principal{Subject: "nob", Tenant: "acme"})
	for _, tc := range []struct {
		name, path string
		header     []string
		status     int
		code       string
	}{
		{"no token", "/me", nil, 401, httpx.CodeUnauthorized},
		{"bad token", "/me", bearer("garbage.token.x"), 401, httpx.CodeInvalidToken},
		{"malformed header", "/me", []string{"Authorization", "Basic abc"}, 401, httpx.CodeInvalidToken},
		{"missing role", "/admin", bearer(nobody), 403, httpx.CodeInsufficientScope},
		{"missing permission", "/reports", bearer(nobody), 403, httpx.CodeInsufficientScope},
		{"other tenant", "/me", append(bearer(nobody), "X-Tenant", "globex"), 403, httpx.CodeForbidden},
	} {
		rec := get(e, tc.path, tc.header...)
		var p httpx.Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatalf("%s: %v: %s", tc.name, err, rec.Body)
		}
		if rec.Code != tc.status || p.Code != tc.code {
			t.Errorf("%s: %d code %q, want %d code %q", tc.name, rec.Code, p.Code, tc.status, tc.code)
		}
	}
}
