package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/auth/memory"
	"github.com/apexgo/apex/httpx"
)

// exampleTokens builds Tokens without fx, on the in-process stores.
func exampleTokens() *auth.JWT {
	cfg := auth.DefaultConfig()
	cfg.Issuer, cfg.Audience = "orders", "orders"
	cfg.Secret = app.NewSecret("a-secret-of-at-least-32-random-bytes")
	cfg.RefreshGrace = time.Second
	tokens, err := auth.New(auth.Params{
		Config:      cfg,
		Revocations: memory.NewRevocations(memory.Config{}),
		Refresh:     memory.NewRefresh(memory.Config{}),
	})
	if err != nil {
		panic(err)
	}
	return tokens
}

// Issue a pair, verify the access token, refresh, and see reuse of the
// spent refresh token revoke the session. Within auth.refresh_grace of a
// refresh, the same token returns the same pair instead (two tabs).
func ExampleJWT() {
	ctx := context.Background()
	tokens := exampleTokens()

	pair, _ := tokens.Issue(ctx, auth.Principal{Subject: "user-1", Roles: []string{"admin"}})
	id, err := tokens.Verify(ctx, pair.AccessToken)
	fmt.Println(id.Subject, id.Roles, err)

	next, err := tokens.Refresh(ctx, pair.RefreshToken)
	fmt.Println("refreshed:", err == nil, next.RefreshToken != pair.RefreshToken)
	again, _ := tokens.Refresh(ctx, pair.RefreshToken) // another tab, within the grace
	fmt.Println("same pair:", again.RefreshToken == next.RefreshToken)

	time.Sleep(1100 * time.Millisecond)             // past the grace (1s here; default 5s)
	_, err = tokens.Refresh(ctx, pair.RefreshToken) // spent: reuse
	fmt.Println(errors.Is(err, auth.ErrRefreshReused))
	_, err = tokens.Verify(ctx, next.AccessToken) // the family's access token is revoked too
	fmt.Println(errors.Is(err, auth.ErrRevoked))
	// Output:
	// user-1 [admin] <nil>
	// refreshed: true true
	// same pair: true
	// true
	// true
}

// End every session of a user at once, after a password change: every
// access token issued before is refused, every refresh token fails; a
// session started afterwards lives.
func ExampleRevokeParams_everySessionOf() {
	ctx := context.Background()
	tokens := exampleTokens()
	laptop, _ := tokens.Issue(ctx, auth.Principal{Subject: "user-1"})
	phone, _ := tokens.Issue(ctx, auth.Principal{Subject: "user-1"})
	time.Sleep(2 * time.Millisecond) // tokens are stamped to the millisecond

	_ = tokens.Revoke(ctx, auth.RevokeParams{EverySessionOf: "user-1"})
	fresh, _ := tokens.Issue(ctx, auth.Principal{Subject: "user-1"})

	_, err := tokens.Verify(ctx, laptop.AccessToken)
	fmt.Println("laptop:", errors.Is(err, auth.ErrRevoked))
	_, err = tokens.Refresh(ctx, phone.RefreshToken)
	fmt.Println("phone:", errors.Is(err, auth.ErrInvalidRefresh))
	_, err = tokens.Verify(ctx, fresh.AccessToken)
	fmt.Println("new session:", err)
	// Output:
	// laptop: true
	// phone: true
	// new session: <nil>
}

// The Guard protects routes: a missing token is a 401 with a Bearer
// challenge, a missing role a 403.
func ExampleGuard() {
	tokens := exampleTokens()
	guard, _ := auth.NewGuard(auth.GuardParams{Tokens: tokens, HTTP: auth.HTTPConfig{Realm: "orders"}})
	e := echo.New()
	errs, _ := httpx.NewErrorHandler(zap.NewNop(), nil) // the httpx module installs it for you
	e.HTTPErrorHandler = errs.Handle
	e.GET("/admin", func(c echo.Context) error {
		id, _ := auth.FromContext(c.Request().Context())
		return c.String(http.StatusOK, "hello "+id.Subject)
	}, guard.RequireRole("admin"))

	get := func(token string) {
		req := httptest.NewRequest(http.MethodGet, "/admin", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	admin, _ := tokens.Issue(context.Background(), auth.Principal{Subject: "ada", Roles: []string{"admin"}})
	user, _ := tokens.Issue(context.Background(), auth.Principal{Subject: "bob"})
	get("")
	get(user.AccessToken)
	get(admin.AccessToken)
	// Output:
	// 401 Bearer realm="orders"
	// 403 Bearer realm="orders", error="insufficient_scope"
	// 200
}

// Hash a password, check it, and spend the same time for a user that
// does not exist.
func ExamplePasswords() {
	ctx := context.Background()
	pw, _ := auth.NewPasswords(auth.DefaultPasswordConfig())
	hash, _ := pw.Hash(ctx, "correct horse battery staple")
	fmt.Println(hash[:30])
	fmt.Println(pw.Verify(ctx, hash, "correct horse battery staple"))
	fmt.Println(pw.Verify(ctx, hash, "wrong"))
	fmt.Println(pw.VerifyNoUser(ctx, "anything"))
	fmt.Println(pw.NeedsRehash(hash))
	// Output:
	// $argon2id$v=19$m=19456,t=2,p=1
	// <nil>
	// auth: password mismatch
	// auth: password mismatch
	// false
}
