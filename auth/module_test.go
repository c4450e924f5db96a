package auth_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/rueidis"
	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/auth/memory"
	authredis "github.com/apexgo/apex/auth/redis"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/internal/redisconn"
	"github.com/apexgo/apex/internal/testservice"
	"github.com/apexgo/apex/observe"
)

// modules are every apex module but data: these tests need no database.
func modules() []fx.Option { return []fx.Option{apex.Without(apex.Data)} }

const (
	password = "pa55word-that-must-never-be-logged"
	userID   = "user-42"
)

// routes is a tiny login service on the module's ports: one user.
func routes(tokens auth.Tokens, pw *auth.Passwords, g *auth.Guard) (httpx.Group, error) {
	hash, err := pw.Hash(context.Background(), password)
	if err != nil {
		return httpx.Group{}, err
	}
	type creds struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	type refresh struct {
		RefreshToken string `json:"refresh_token"`
	}
	return httpx.Group{Prefix: "/auth", Routes: []httpx.Route{
		{Method: http.MethodPost, Path: "/login", Handler: func(c echo.Context) error {
			var in creds
			if err := httpx.Bind(c, &in); err != nil {
				return err
			}
			ctx := c.Request().Context()
			if in.Email != "ada@example.com" {
				_ = pw.VerifyNoUser(ctx, in.Password)
				return httpx.NewProblem(http.StatusUnauthorized, "wrong email or password")
			}
			if err := pw.Verify(ctx, hash, in.Password); err != nil {
				return httpx.NewProblem(http.StatusUnauthorized, "wrong email or password")
			}
			p, err := tokens.Issue(ctx, auth.Principal{Subject: userID, Roles: []string{"admin"}})
			if err != nil {
				return err
			}
			return c.JSON(http.StatusOK, p)
		}},
		{Method: http.MethodPost, Path: "/refresh", Handler: func(c echo.Context) error {
			var in refresh
			if err := httpx.Bind(c, &in); err != nil {
				return err
			}
			p, err := tokens.Refresh(c.Request().Context(), in.RefreshToken)
			if err != nil {
				return err // ErrInvalidRefresh is mapped to 401 by the module
			}
			return c.JSON(http.StatusOK, p)
		}},
		{Method: http.MethodPost, Path: "/logout", Middleware: []echo.MiddlewareFunc{g.Authenticate()}, Handler: func(c echo.Context) error {
			var in refresh
			if err := httpx.Bind(c, &in); err != nil {
				return err
			}
			id, _ := auth.FromContext(c.Request().Context())
			if err := tokens.Revoke(c.Request().Context(), auth.RevokeParams{Access: id, RefreshToken: in.RefreshToken}); err != nil {
				return err
			}
			return c.NoContent(http.StatusNoContent)
		}},
		{Method: http.MethodGet, Path: "/me", Middleware: []echo.MiddlewareFunc{g.Authenticate()}, Handler: func(c echo.Context) error {
			id, _ := auth.FromContext(c.Request().Context())
			return c.JSON(http.StatusOK, map[string]any{"subject": id.Subject, "roles": id.Roles})
		}},
	}}, nil
}

func startApp(t *testing.T, config map[string]any, extra ...fx.Option) *apptest.App {
	t.Helper()
	cfg := map[string]any{"auth.secret": testSecret, "auth.password.memory": 4096, "auth.password.iterations": 1}
	for k, v := range config {
		cfg[k] = v
	}
	return apptest.New(t, modules(), apptest.Config(cfg), apptest.With(append(extra, fx.Provide(httpx.AsGroup(routes)))...))
}

func login(t *testing.T, a *apptest.App, pw string) (auth.Pair, int) {
	t.Helper()
	r := a.Do(t, http.MethodPost, "/auth/login", `{"email":"ada@example.com","password":"`+pw+`"}`)
	var p auth.Pair
	if r.StatusCode == http.StatusOK {
		r.JSON(t, &p)
	}
	return p, r.StatusCode
}

func TestModuleFlowAndNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	var rev auth.Revocations
	a := startApp(t, map[string]any{"observe.log.level": "debug", "auth.refresh_grace": "0s"}, fx.Populate(&rev))
	if _, ok := rev.(*memory.Revocations); !ok {
		t.Fatalf("without Redis the stores are %T, want memory", rev)
	}
	if _, code := login(t, a, "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("login with a wrong password: %d", code)
	}
	p1, code := login(t, a, password)
	if code != http.StatusOK || p1.AccessToken == "" || p1.RefreshToken == "" || p1.ExpiresIn != 900 {
		t.Fatalf("login: %d %+v", code, p1)
	}
	if r := a.Do(t, http.MethodGet, "/auth/me", "", "Authorization", "Bearer "+p1.AccessToken); r.StatusCode != 200 || !strings.Contains(string(r.Body), userID) {
		t.Fatalf("/me: %d %s", r.StatusCode, r.Body)
	}
	r := a.Do(t, http.MethodPost, "/auth/refresh", `{"refresh_token":"`+p1.RefreshToken+`"}`)
	var p2 auth.Pair
	r.JSON(t, &p2)
	if r.StatusCode != 200 || p2.RefreshToken == "" {
		t.Fatalf("refresh: %d %s", r.StatusCode, r.Body)
	}
	// Reuse of the first refresh token: the same 401 as any bad refresh
	// token (nothing tells a thief the theft was seen), the family and
	// its access token revoked, an ERROR logged (it reaches the alerter).
	reused := a.Do(t, http.MethodPost, "/auth/refresh", `{"refresh_token":"`+p1.RefreshToken+`"}`)
	unknown := a.Do(t, http.MethodPost, "/auth/refresh", `{"refresh_token":"`+strings.Repeat("A", 64)+`"}`)
	var reusedBody, unknownBody httpx.Problem
	reused.JSON(t, &reusedBody)
	unknown.JSON(t, &unknownBody)
	if reused.StatusCode != http.StatusUnauthorized || reusedBody.Detail != unknownBody.Detail || reusedBody.Code != unknownBody.Code ||
		strings.Contains(strings.ToLower(string(reused.Body)), "reuse") {
		t.Fatalf("reused refresh token: %d %s; an unknown one: %d %s; want the same 401", reused.StatusCode, reused.Body, unknown.StatusCode, unknown.Body)
	}
	if reusedBody.Code != httpx.CodeInvalidToken {
		t.Fatalf("a bad refresh token's problem code is %q, want %q", reusedBody.Code, httpx.CodeInvalidToken)
	}
	if r := a.Do(t, http.MethodGet, "/auth/me", "", "Authorization", "Bearer "+p2.AccessToken); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/me with the access token of a reused family: %d", r.StatusCode)
	}
	alert := a.WaitForLog(t, "auth: refresh token reused; its family is revoked", time.Second)
	if alert.Level.String() != "error" {
		t.Fatalf("reuse logged at %v, want ERROR", alert.Level)
	}
	// A fresh session, then logout.
	p3, _ := login(t, a, password)
	if r := a.Do(t, http.MethodPost, "/auth/logout", `{"refresh_token":"`+p3.RefreshToken+`"}`, "Authorization", "Bearer "+p3.AccessToken); r.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.StatusCode, r.Body)
	}
	if r := a.Do(t, http.MethodGet, "/auth/me", "", "Authorization", "Bearer "+p3.AccessToken); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/me after logout: %d", r.StatusCode)
	}
	if r := a.Do(t, http.MethodPost, "/auth/refresh", `{"refresh_token":"`+p3.RefreshToken+`"}`); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("refresh after logout: %d", r.StatusCode)
	}
	// Garbage everywhere.
	for _, tok := range []string{"x", p1.AccessToken + "x", strings.Repeat("A", 20000)} {
		if r := a.Do(t, http.MethodGet, "/auth/me", "", "Authorization", "Bearer "+tok); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("/me with garbage: %d", r.StatusCode)
		}
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}

	// Scan every log line of the app: no token, refresh token, password
	// or part of one.
	secrets := []string{password, testSecret}
	for _, p := range []auth.Pair{p1, p2, p3} {
		parts := strings.Split(p.AccessToken, ".")
		// payload, signature, the family and the secret parts of the refresh token
		secrets = append(secrets, p.RefreshToken, parts[1], parts[2], p.RefreshToken[:21], p.RefreshToken[22:])
	}
	lines := a.LogLines()
	if len(lines) < 10 {
		t.Fatalf("only %d log lines: the scan would prove nothing", len(lines))
	}
	for _, line := range lines {
		for _, s := range secrets {
			if strings.Contains(line, s) {
				t.Errorf("a log line contains a secret (%.8s…): %s", s, line)
			}
		}
	}
}

func TestModuleConfigErrors(t *testing.T) {
	t.Parallel()
	_, err := apptest.Start(t, modules(), apptest.Config(map[string]any{"auth.driver": "redis"}))
	if err == nil || !strings.Contains(err.Error(), "redis.addr") {
		t.Fatalf("auth.driver redis without Redis: %v, want an error naming redis.addr", err)
	}
	_, err = apptest.Start(t, modules(), apptest.Config(map[string]any{"auth.algorithm": "EdDSA"}))
	if err == nil || !strings.Contains(err.Error(), "auth.private_key") {
		t.Fatalf("EdDSA without a key: %v, want an error naming auth.private_key", err)
	}
	_, err = apptest.Start(t, modules(), apptest.Config(map[string]any{"auth.secret": "short"}))
	if err == nil || !strings.Contains(err.Error(), "auth.secret") || strings.Contains(err.Error(), "short") {
		t.Fatalf("a short secret: %v, want an error naming auth.secret without its value", err)
	}
	_, err = apptest.Start(t, modules(), apptest.Config(map[string]any{"auth.refresh_grace": "2m"}))
	if err == nil || !strings.Contains(err.Error(), "auth.refresh_grace") {
		t.Fatalf("auth.refresh_grace over 1m: %v, want an error naming it", err)
	}
	// Development and test without a secret: a random one, with a WARN.
	a := apptest.New(t, modules())
	a.WaitForLog(t, "auth.secret is not set: signing with a random per-process secret; tokens end with the process and other instances reject them. Set APP_AUTH__SECRET (32+ random bytes) outside development", time.Second)
}

// Two instances sharing Redis: a logout on one is a 401 on the other; a
// refresh token spent on one gets the same pair on the other within
// auth.refresh_grace, and is reuse there past it.
func TestModuleTwoInstancesOnRedis(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	prefix := testservice.Unique("apexauthtest") + ":"
	const grace = time.Second // long enough for a loaded CI machine to ask again inside it
	cfg := map[string]any{"redis.addr": addr, "auth.prefix": prefix, "auth.refresh_grace": grace.String()}
	var rev auth.Revocations
	var client rueidis.Client
	a := startApp(t, cfg, fx.Populate(&rev, &client))
	b := startApp(t, cfg)
	if _, ok := rev.(*authredis.Revocations); !ok {
		t.Fatalf("with redis.addr the stores are %T, want auth/redis", rev)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if keys, err := client.Do(ctx, client.B().Keys().Pattern(prefix+"*").Build()).AsStrSlice(); err == nil && len(keys) > 0 {
			_ = client.Do(ctx, client.B().Del().Key(keys...).Build()).Error()
		}
	})
	p, code := login(t, a, password)
	if code != 200 {
		t.Fatalf("login: %d", code)
	}
	if r := b.Do(t, http.MethodGet, "/auth/me", "", "Authorization", "Bearer "+p.AccessToken); r.StatusCode != 200 {
		t.Fatalf("/me on the other instance: %d", r.StatusCode)
	}
	if r := a.Do(t, http.MethodPost, "/auth/logout", `{}`, "Authorization", "Bearer "+p.AccessToken); r.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.StatusCode, r.Body)
	}
	deadline := time.Now().Add(2 * time.Second)
	for b.Do(t, http.MethodGet, "/auth/me", "", "Authorization", "Bearer "+p.AccessToken).StatusCode != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("the other instance still accepts a revoked token after 2s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A refresh on b; the same token on a within auth.refresh_grace (two
	// tabs whose requests reached two instances) gets the same pair; past
	// it, the token is reuse.
	rotated := time.Now()
	rb := b.Do(t, http.MethodPost, "/auth/refresh", `{"refresh_token":"`+p.RefreshToken+`"}`)
	if rb.StatusCode != 200 {
		t.Fatalf("refresh on b: %d %s", rb.StatusCode, rb.Body)
	}
	answered := time.Now() // b rotated between rotated and answered
	ra := a.Do(t, http.MethodPost, "/auth/refresh", `{"refresh_token":"`+p.RefreshToken+`"}`)
	var pa, pb auth.Pair
	ra.JSON(t, &pa)
	rb.JSON(t, &pb)
	switch {
	case ra.StatusCode == 200 && pa == pb:
	case time.Since(rotated) < grace:
		t.Fatalf("the same refresh token on a within the grace: %d %s, want b's pair %s", ra.StatusCode, ra.Body, rb.Body)
	default: // too slow a machine to ask within the grace: reuse is right
		t.Skipf("the second refresh came %v after the first, past the grace", time.Since(rotated))
	}
	time.Sleep(time.Until(answered.Add(grace + 100*time.Millisecond)))
	if r := a.Do(t, http.MethodPost, "/auth/refresh", `{"refresh_token":"`+p.RefreshToken+`"}`); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the same refresh token on a past the grace: %d, want 401 (reuse)", r.StatusCode)
	}
	if r := b.Do(t, http.MethodPost, "/auth/refresh", `{"refresh_token":"`+pb.RefreshToken+`"}`); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the family's newest token after reuse: %d, want 401", r.StatusCode)
	}
}

func TestSubjectFuncForRateLimits(t *testing.T) {
	t.Parallel()
	var subject httpx.SubjectFunc
	apptest.New(t, modules(), apptest.With(fx.Populate(&subject)))
	e := echo.New()
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	c := e.NewContext(req, nil)
	if s := subject(c); s != "" {
		t.Fatalf("subject without identity: %q", s)
	}
	c.SetRequest(req.WithContext(auth.WithIdentity(req.Context(), auth.Identity{Principal: auth.Principal{Subject: "ada"}})))
	if s := subject(c); s != "ada" {
		t.Fatalf("subject = %q, want ada", s)
	}
}

// Maps configure from the environment: permissions by role, verify keys
// by kid.
func TestModuleConfigFromEnv(t *testing.T) {
	t.Parallel()
	var (
		g    *auth.Guard
		j    auth.Tokens
		info app.Info
		cfg  auth.Config
	)
	apptest.New(t, modules(), apptest.Env(
		"APP_AUTH__SECRET="+testSecret,
		"APP_AUTH__REFRESH_GRACE=2s",
		"APP_AUTH__PERMISSIONS__AUDITOR=reports:read,audit:read",
		"APP_AUTH__VERIFY_KEYS__OLD2025__ALGORITHM=HS256",
		"APP_AUTH__VERIFY_KEYS__OLD2025__SECRET=another-secret-of-at-least-32-bytes!!",
	), apptest.With(fx.Populate(&g, &j, &info, &cfg)))
	if cfg.RefreshGrace != 2*time.Second {
		t.Fatalf("APP_AUTH__REFRESH_GRACE=2s gave auth.refresh_grace %v", cfg.RefreshGrace)
	}
	auditor := auth.Identity{Principal: auth.Principal{Roles: []string{"auditor"}}}
	if !g.Can(auditor, "audit:read") || !g.Can(auditor, "reports:read") {
		t.Fatal("APP_AUTH__PERMISSIONS__AUDITOR was not applied")
	}
	old := newJWT(t, testConfig(func(c *auth.Config) {
		c.Secret, c.KeyID, c.Issuer, c.Audience = app.NewSecret("another-secret-of-at-least-32-bytes!!"), "old2025", info.Name, info.Name
	}))
	tok := issue(t, old, auth.Principal{Subject: "s"})
	if _, err := j.Verify(t.Context(), tok); err != nil {
		t.Fatalf("a token of the env-configured verify key: %v", err)
	}
}

// With the data module's tenancy on, its middleware sets the request's
// tenant before the Guard runs, and a token of another tenant is a 403.
func TestGuardWithDataTenancy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var tokens auth.Tokens
	a := apptest.New(t,
		apex.Modules,
		apptest.Config(map[string]any{
			"auth.secret":                     testSecret,
			"data.tenancy.enabled":            true,
			"data.tenancy.tenants.acme.dsn":   "sqlite:" + filepath.Join(dir, "acme.db"),
			"data.tenancy.tenants.globex.dsn": "sqlite:" + filepath.Join(dir, "globex.db"),
		}),
		apptest.With(fx.Populate(&tokens), fx.Provide(httpx.AsRoute(func(g *auth.Guard) httpx.Route {
			return httpx.Route{Method: http.MethodGet, Path: "/whoami", Middleware: []echo.MiddlewareFunc{g.Authenticate()},
				Handler: func(c echo.Context) error {
					id, _ := auth.FromContext(c.Request().Context())
					tenant, _ := app.Tenant(c.Request().Context())
					return c.String(http.StatusOK, id.Subject+"@"+tenant)
				}}
		}))))
	p, err := tokens.Issue(t.Context(), auth.Principal{Subject: "ada", Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if r := a.Do(t, http.MethodGet, "/whoami", "", "Authorization", "Bearer "+p.AccessToken, "X-Tenant-ID", "acme"); r.StatusCode != 200 || string(r.Body) != "ada@acme" {
		t.Fatalf("own tenant: %d %s", r.StatusCode, r.Body)
	}
	if r := a.Do(t, http.MethodGet, "/whoami", "", "Authorization", "Bearer "+p.AccessToken, "X-Tenant-ID", "globex"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("another tenant: %d %s, want 403", r.StatusCode, r.Body)
	}
}

// The module needs no HTTP server: a worker verifies tokens too.
func TestModuleWithoutHTTP(t *testing.T) {
	t.Parallel()
	var tokens auth.Tokens
	apptest.New(t, []fx.Option{app.Module, app.Timeouts, observe.Module, observe.EventLogger, redisconn.Module, auth.Module},
		apptest.Config(map[string]any{"auth.secret": testSecret}), apptest.With(fx.Populate(&tokens)))
	p, err := tokens.Issue(t.Context(), auth.Principal{Subject: "worker"})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := tokens.Verify(t.Context(), p.AccessToken); err != nil || id.Subject != "worker" {
		t.Fatalf("Verify: %+v, %v", id, err)
	}
}

// A rotation configured through the environment with the derived kid of
// the previous key: the env loader lower-cases the kid in
// APP_AUTH__VERIFY_KEYS__<KID>__..., and tokens of the previous key still
// verify.
func TestKeyRotationThroughEnv(t *testing.T) {
	t.Parallel()
	old := newJWT(t, testConfig()) // derived kid
	if kid := old.KeyID(); kid != strings.ToLower(kid) || strings.Contains(kid, "_") {
		t.Errorf("derived kid %q: want lower case without underscores", kid)
	}
	tok := issue(t, old, auth.Principal{Subject: "s"})
	var j auth.Tokens
	env := "APP_AUTH__VERIFY_KEYS__" + strings.ToUpper(old.KeyID())
	apptest.New(t, modules(), apptest.Env(
		"APP_AUTH__SECRET=another-secret-of-at-least-32-bytes!!",
		"APP_AUTH__ISSUER=test", "APP_AUTH__AUDIENCE=test",
		env+"__ALGORITHM=HS256",
		env+"__SECRET="+testSecret,
	), apptest.With(fx.Populate(&j)))
	if _, err := j.Verify(t.Context(), tok); err != nil {
		t.Fatalf("a token of the previous key, configured as %s: %v", env, err)
	}
}

// The module's httpx.TokenVerifier (for modules that take tokens outside
// the Guard, such as realtime) sorts tokens into valid, expired (refresh
// and retry), revoked and invalid.
func TestTokenVerifierForOtherModules(t *testing.T) {
	t.Parallel()
	var (
		verify httpx.TokenVerifier
		tokens auth.Tokens
	)
	apptest.New(t, modules(), apptest.Config(map[string]any{"auth.access_ttl": "1s", "auth.leeway": "0s"}),
		apptest.With(fx.Populate(&verify, &tokens)))
	pair, err := tokens.Issue(t.Context(), auth.Principal{Subject: "ada", Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := verify(t.Context(), pair.AccessToken)
	if err != nil || got.Subject != "ada" || got.Tenant != "acme" || got.ExpiresAt.IsZero() {
		t.Fatalf("valid token: %+v, %v", got, err)
	}
	if _, err := verify(t.Context(), "not.a.token"); !errors.Is(err, httpx.ErrTokenInvalid) {
		t.Fatalf("garbage: %v, want ErrTokenInvalid", err)
	}
	revoked, err := tokens.Issue(t.Context(), auth.Principal{Subject: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := tokens.Verify(t.Context(), revoked.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := tokens.Revoke(t.Context(), auth.RevokeParams{Access: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := verify(t.Context(), revoked.AccessToken); !errors.Is(err, httpx.ErrTokenInvalid) {
		t.Fatalf("revoked: %v, want ErrTokenInvalid", err)
	}
	time.Sleep(2100 * time.Millisecond) // the access TTL is whole seconds
	if _, err := verify(t.Context(), pair.AccessToken); !errors.Is(err, httpx.ErrTokenExpired) {
		t.Fatalf("expired: %v, want ErrTokenExpired", err)
	}
}
