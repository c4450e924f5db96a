package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/internal/redisconn"
	"github.com/apexgo/apex/internal/testservice"
)

// grace is auth.refresh_grace in these tests: long enough that a loaded CI
// machine serves the second tab's refresh inside it.
const grace = time.Second

// cheap argon2id parameters: the flow is under test, not the hashing.
var fastHashing = map[string]any{"auth.password.memory": 1024, "auth.password.iterations": 1}

func start(t *testing.T, config map[string]any) *apptest.App {
	t.Helper()
	cfg := map[string]any{"accounts.admins": []string{"root@example.com"}, "auth.refresh_grace": grace.String()}
	for k, v := range fastHashing {
		cfg[k] = v
	}
	for k, v := range config {
		cfg[k] = v
	}
	return apptest.New(t, options(), apptest.Config(cfg))
}

func register(t *testing.T, a *apptest.App, email, password string) apptest.Response {
	t.Helper()
	return a.Do(t, http.MethodPost, "/auth/register", `{"email":"`+email+`","password":"`+password+`"}`)
}

func login(t *testing.T, a *apptest.App, email, password string) (auth.Pair, apptest.Response) {
	t.Helper()
	r := a.Do(t, http.MethodPost, "/auth/login", `{"email":"`+email+`","password":"`+password+`"}`)
	var p auth.Pair
	if r.StatusCode == http.StatusOK {
		r.JSON(t, &p)
	}
	return p, r
}

func bearer(p auth.Pair) []string { return []string{"Authorization", "Bearer " + p.AccessToken} }

func TestFlow(t *testing.T) {
	t.Parallel()
	flow(t, start(t, nil))
}

// The same service on Redis (revocations, refresh tokens, rate limits),
// by configuration alone.
func TestFlowOnRedis(t *testing.T) {
	t.Parallel()
	addr := testservice.Need(t, testservice.Redis)
	prefix := testservice.Unique("apexauthexample")
	t.Cleanup(func() { deleteKeys(t, addr, prefix+":*") })
	flow(t, start(t, map[string]any{
		"redis.addr": addr, "auth.prefix": prefix + ":auth:", "cache.prefix": prefix + ":",
		"auth.secret": "0123456789abcdef0123456789abcdef",
	}))
}

func flow(t *testing.T, a *apptest.App) {
	t.Helper()

	// Register: created, duplicate, invalid.
	r := register(t, a, "ada@example.com", "correct horse battery")
	var ada profile
	r.JSON(t, &ada)
	if r.StatusCode != http.StatusCreated || ada.ID == "" || ada.Email != "ada@example.com" {
		t.Fatalf("register: %d %s", r.StatusCode, r.Body)
	}
	if r := register(t, a, "ADA@example.com", "another password"); r.StatusCode != http.StatusConflict {
		t.Fatalf("duplicate register: %d %s", r.StatusCode, r.Body)
	}
	if r := register(t, a, "not-an-email", "short"); r.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(string(r.Body), `"field":"email"`) || !strings.Contains(string(r.Body), `"field":"password"`) {
		t.Fatalf("invalid register: %d %s", r.StatusCode, r.Body)
	}

	// Login: wrong password and unknown user answer alike.
	_, wrong := login(t, a, "ada@example.com", "wrong password!")
	_, unknown := login(t, a, "nobody@example.com", "wrong password!")
	if wrong.StatusCode != 401 || unknown.StatusCode != 401 || problemDetail(t, wrong) != problemDetail(t, unknown) {
		t.Fatalf("wrong password %d %s, unknown user %d %s: want the same 401", wrong.StatusCode, wrong.Body, unknown.StatusCode, unknown.Body)
	}
	p, r := login(t, a, "ada@example.com", "correct horse battery")
	if r.StatusCode != 200 || p.TokenType != "Bearer" || p.RefreshToken == "" {
		t.Fatalf("login: %d %s", r.StatusCode, r.Body)
	}

	// /me, and the admin route refused to a user.
	r = a.Do(t, http.MethodGet, "/me", "", bearer(p)...)
	var me profile
	r.JSON(t, &me)
	if r.StatusCode != 200 || me.ID != ada.ID {
		t.Fatalf("/me: %d %s", r.StatusCode, r.Body)
	}
	if r := a.Do(t, http.MethodGet, "/me", ""); r.StatusCode != 401 || r.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("/me without a token: %d %v", r.StatusCode, r.Header)
	}
	if r := a.Do(t, http.MethodGet, "/admin/users/"+ada.ID, "", bearer(p)...); r.StatusCode != http.StatusForbidden {
		t.Fatalf("admin route as a user: %d", r.StatusCode)
	}

	// An admin (accounts.admins) reads any user.
	register(t, a, "root@example.com", "root password 123")
	root, _ := login(t, a, "root@example.com", "root password 123")
	if r := a.Do(t, http.MethodGet, "/admin/users/"+ada.ID, "", bearer(root)...); r.StatusCode != 200 || !strings.Contains(string(r.Body), "ada@example.com") {
		t.Fatalf("admin route as an admin: %d %s", r.StatusCode, r.Body)
	}

	// Refresh rotates; reusing the old refresh token ends the session.
	rotated := time.Now()
	r = a.Do(t, http.MethodPost, "/auth/refresh", `{"refresh_token":"`+p.RefreshToken+`"}`)
	var p2 auth.Pair
	r.JSON(t, &p2)
	if r.StatusCode != 200 || p2.RefreshToken == p.RefreshToken {
		t.Fatalf("refresh: %d %s", r.StatusCode, r.Body)
	}
	answered := time.Now() // the server rotated between rotated and answered
	// A second tab refreshing with the same token within
	// auth.refresh_grace gets the same pair; past it, the token is reuse.
	r = a.Do(t, http.MethodPost, "/auth/refresh", `{"refresh_token":"`+p.RefreshToken+`"}`)
	var tab auth.Pair
	r.JSON(t, &tab)
	switch {
	case r.StatusCode == 200 && tab == p2:
	case time.Since(rotated) < grace:
		t.Fatalf("the same refresh token within the grace: %d %s, want the same pair", r.StatusCode, r.Body)
	default: // the machine was too slow to ask within the grace: reuse is right
		t.Skipf("the second refresh came %v after the first, past the grace", time.Since(rotated))
	}
	if r := a.Do(t, http.MethodGet, "/me", "", bearer(p2)...); r.StatusCode != 200 {
		t.Fatalf("/me after refresh: %d", r.StatusCode)
	}
	time.Sleep(time.Until(answered.Add(grace + 50*time.Millisecond)))
	if r := a.Do(t, http.MethodPost, "/auth/refresh", `{"refresh_token":"`+p.RefreshToken+`"}`); r.StatusCode != 401 {
		t.Fatalf("reused refresh token: %d %s", r.StatusCode, r.Body)
	}
	if r := a.Do(t, http.MethodGet, "/me", "", bearer(p2)...); r.StatusCode != 401 {
		t.Fatalf("/me after reuse: %d, want 401", r.StatusCode)
	}

	// Logout revokes the access token and the refresh token.
	p3, _ := login(t, a, "ada@example.com", "correct horse battery")
	if r := a.Do(t, http.MethodPost, "/auth/logout", `{"refresh_token":"`+p3.RefreshToken+`"}`, bearer(p3)...); r.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.StatusCode, r.Body)
	}
	if r := a.Do(t, http.MethodGet, "/me", "", bearer(p3)...); r.StatusCode != 401 {
		t.Fatalf("/me after logout: %d", r.StatusCode)
	}
	if r := a.Do(t, http.MethodPost, "/auth/refresh", `{"refresh_token":"`+p3.RefreshToken+`"}`); r.StatusCode != 401 {
		t.Fatalf("refresh after logout: %d", r.StatusCode)
	}

	// No password or token in any log line.
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, line := range a.LogLines() {
		for _, s := range []string{"correct horse battery", "root password 123", p.AccessToken, p.RefreshToken, p2.RefreshToken, p3.AccessToken} {
			if strings.Contains(line, s) {
				t.Errorf("a log line holds a secret: %s", line)
			}
		}
	}
}

func problemDetail(t *testing.T, r apptest.Response) string {
	t.Helper()
	var p struct{ Detail string }
	r.JSON(t, &p)
	return p.Detail
}

func TestLoginRateLimits(t *testing.T) {
	t.Parallel()
	a := start(t, map[string]any{"accounts.login_per_email": 3, "accounts.login_per_ip": 6})
	register(t, a, "ada@example.com", "correct horse battery")
	// Per email: the 4th attempt on one account is refused...
	for i := range 3 {
		if _, r := login(t, a, "ada@example.com", "wrong password!"); r.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i+1, r.StatusCode)
		}
	}
	_, r := login(t, a, "ada@example.com", "correct horse battery")
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("4th attempt on one email: %d %v, want 429 with Retry-After", r.StatusCode, r.Header)
	}
	// ...while another account from the same IP still may, until the IP's
	// budget (6, the register included) runs out.
	if _, r := login(t, a, "bob@example.com", "wrong password!"); r.StatusCode != 401 {
		t.Fatalf("another email: %d", r.StatusCode)
	}
	_, r = login(t, a, "carol@example.com", "wrong password!")
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("7th request from one IP: %d, want 429", r.StatusCode)
	}
}

// deleteKeys removes the test's keys from Redis.
func deleteKeys(t *testing.T, addr, pattern string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg := redisconn.DefaultConfig()
	cfg.Addr = addr
	c, err := redisconn.New(ctx, cfg, redisconn.Params{})
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer c.Close()
	keys, err := c.Do(ctx, c.B().Keys().Pattern(pattern).Build()).AsStrSlice()
	if err == nil && len(keys) > 0 {
		err = c.Do(ctx, c.B().Del().Key(keys...).Build()).Error()
	}
	if err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

// Changing the password ends every session at once, access and refresh
// tokens alike; the caller gets a new pair. On
// every database: MySQL's TIMESTAMP keeps whole seconds, so a comparison
// of times there both spared sessions started just before the change and
// ended the new one.
func TestChangePassword(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(t testing.TB) string{
		"sqlite":   datatest.SQLiteDSN,
		"postgres": datatest.PostgresDSN,
		"mysql":    datatest.MySQLDSN,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for range 3 {
				changePassword(t, start(t, map[string]any{"data.dsn": dsn(t)}))
			}
		})
	}
}

func changePassword(t *testing.T, a *apptest.App) {
	t.Helper()
	register(t, a, "ada@example.com", "correct horse battery")
	laptop, _ := login(t, a, "ada@example.com", "correct horse battery")
	phone, _ := login(t, a, "ada@example.com", "correct horse battery")

	if r := a.Do(t, http.MethodPost, "/auth/password", `{"current_password":"wrong password","new_password":"a new passphrase"}`, bearer(laptop)...); r.StatusCode != http.StatusForbidden {
		t.Fatalf("change with a wrong current password: %d %s", r.StatusCode, r.Body)
	}
	r := a.Do(t, http.MethodPost, "/auth/password", `{"current_password":"correct horse battery","new_password":"a new passphrase"}`, bearer(laptop)...)
	var fresh auth.Pair
	r.JSON(t, &fresh)
	if r.StatusCode != 200 || fresh.AccessToken == "" {
		t.Fatalf("change password: %d %s", r.StatusCode, r.Body)
	}
	if r := a.Do(t, http.MethodGet, "/me", "", bearer(laptop)...); r.StatusCode != 401 {
		t.Fatalf("the caller's old access token: %d, want 401", r.StatusCode)
	}
	if r := a.Do(t, http.MethodGet, "/me", "", bearer(phone)...); r.StatusCode != 401 {
		t.Fatalf("another session's access token right after the change: %d, want 401", r.StatusCode)
	}
	if r := a.Do(t, http.MethodGet, "/me", "", bearer(fresh)...); r.StatusCode != 200 {
		t.Fatalf("the new access token: %d %s", r.StatusCode, r.Body)
	}
	if r := a.Do(t, http.MethodPost, "/auth/refresh", `{"refresh_token":"`+phone.RefreshToken+`"}`); r.StatusCode != 401 {
		t.Fatalf("another session's refresh after the change: %d %s, want 401", r.StatusCode, r.Body)
	}
	if r := a.Do(t, http.MethodPost, "/auth/refresh", `{"refresh_token":"`+fresh.RefreshToken+`"}`); r.StatusCode != 200 {
		t.Fatalf("the new session's refresh: %d %s", r.StatusCode, r.Body)
	}
	if _, r := login(t, a, "ada@example.com", "correct horse battery"); r.StatusCode != 401 {
		t.Fatalf("login with the old password: %d", r.StatusCode)
	}
	if _, r := login(t, a, "ada@example.com", "a new passphrase"); r.StatusCode != 200 {
		t.Fatalf("login with the new password: %d", r.StatusCode)
	}
}

// A stored hash in no known format answers a login like a wrong password
// (401, after the same hashing), never a 500 that would tell the account
// exists, and is logged at ERROR without the hash.
func TestLoginWithUnknownHash(t *testing.T) {
	t.Parallel()
	var users Users
	a := apptest.New(t, options(), apptest.Config(fastHashing), apptest.With(fx.Populate(&users)))
	const broken = "$md5$not-a-hash-we-know"
	if err := users.Create(t.Context(), User{ID: "u1", Email: "ada@example.com", PasswordHash: broken, Roles: []string{"user"}, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	_, unknown := login(t, a, "nobody@example.com", "some password")
	_, r := login(t, a, "ada@example.com", "some password")
	if r.StatusCode != http.StatusUnauthorized || problemDetail(t, r) != problemDetail(t, unknown) {
		t.Fatalf("login with an unknown hash: %d %s, want the 401 of an unknown user", r.StatusCode, r.Body)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := a.Logs.FilterLevelExact(zap.ErrorLevel).FilterMessageSnippet("no known format").Len(); n != 1 {
		t.Errorf("%d ERROR lines about the hash, want 1", n)
	}
	for _, line := range a.LogLines() {
		if strings.Contains(line, "not-a-hash") || strings.Contains(line, "some password") {
			t.Errorf("a log line holds the hash or the password: %s", line)
		}
	}
}
