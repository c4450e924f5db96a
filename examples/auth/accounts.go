package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/cache"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/observe"
)

// Config is this example's section, "accounts".
type Config struct {
	// Admins are emails that get the admin role when they register.
	Admins []string `koanf:"admins" validate:"dive,email"`
	// LoginPerIP and LoginPerEmail bound login attempts per minute from
	// one client IP and for one email. Defaults 20 and 5.
	LoginPerIP    int `koanf:"login_per_ip" validate:"gte=1"`
	LoginPerEmail int `koanf:"login_per_email" validate:"gte=1"`
}

// DefaultConfig returns the built-in defaults.
func DefaultConfig() Config {
	return Config{LoginPerIP: 20, LoginPerEmail: 5}
}

var accountsModule = fx.Module("accounts",
	app.ProvideSection("accounts", DefaultConfig),
	fx.Provide(
		fx.Annotate(NewDBUsers, fx.As(new(Users))),
		newHandlers,
		reloader,
		httpx.AsGroup(authRoutes),
		httpx.AsGroup(profileRoutes),
	),
	fx.Invoke(migrate),
	httpx.MapError(ErrDuplicate, http.StatusConflict),
	httpx.MapError(ErrNoUser, http.StatusNotFound),
)

// Handlers serves the account endpoints.
type Handlers struct {
	cfg       Config
	users     Users
	tokens    auth.Tokens
	passwords *auth.Passwords
	limiter   cache.Limiter
	log       *zap.Logger
}

type handlersIn struct {
	fx.In
	Config    Config
	Users     Users
	Tokens    auth.Tokens
	Passwords *auth.Passwords
	Limiter   cache.Limiter
	Log       *zap.Logger
}

func newHandlers(in handlersIn) *Handlers {
	return &Handlers{cfg: in.Config, users: in.Users, tokens: in.Tokens, passwords: in.Passwords, limiter: in.Limiter, log: in.Log}
}

// generationClaim carries User.SessionGeneration in a session's principal
// (and so in its access tokens).
const generationClaim = "sgen"

// principal is what a session of u is issued for.
func principal(u User) auth.Principal {
	return auth.Principal{Subject: u.ID, Roles: u.Roles, Claims: map[string]any{generationClaim: u.SessionGeneration}}
}

// reloader re-reads the user at each refresh: roles granted or removed
// since login take effect, and the sessions of a deleted user, or issued
// before the last password change (of an older session generation), end.
func reloader(users Users) auth.ReloadFunc {
	return func(ctx context.Context, s auth.Session) (auth.Principal, error) {
		p := s.Principal
		u, err := users.ByID(ctx, p.Subject)
		if errors.Is(err, ErrNoUser) {
			return p, errors.Join(auth.ErrInvalidRefresh, err)
		}
		if err != nil {
			return p, err
		}
		// Claims come back from JSON: a number is a float64; a session
		// from before generations counts as generation 0.
		if gen, _ := p.Claims[generationClaim].(float64); int64(gen) != u.SessionGeneration {
			return p, fmt.Errorf("%w: the password changed since this session started", auth.ErrInvalidRefresh)
		}
		p.Roles = u.Roles
		return p, nil
	}
}

// authRoutes are /auth/*: public, except logout. Register and login share
// a per-IP rate limit; login also limits per email.
func authRoutes(h *Handlers, g *auth.Guard, limits *cache.RateLimits) (httpx.Group, error) {
	perIP, err := limits.Policies(cache.Policy{Name: "accounts_ip", Limit: cache.PerMinute(h.cfg.LoginPerIP), Key: cache.ByIP()})
	if err != nil {
		return httpx.Group{}, err
	}
	limited := []echo.MiddlewareFunc{perIP}
	return httpx.Group{Prefix: "/auth", Routes: []httpx.Route{
		{Method: http.MethodPost, Path: "/register", Handler: h.register, Middleware: limited},
		{Method: http.MethodPost, Path: "/login", Handler: h.login, Middleware: limited},
		{Method: http.MethodPost, Path: "/refresh", Handler: h.refresh},
		{Method: http.MethodPost, Path: "/logout", Handler: h.logout, Middleware: []echo.MiddlewareFunc{g.Authenticate()}},
		{Method: http.MethodPost, Path: "/password", Handler: h.changePassword, Middleware: []echo.MiddlewareFunc{g.Authenticate()}},
	}}, nil
}

// profileRoutes are GET /me (any user) and GET /admin/users/:id (admins).
func profileRoutes(h *Handlers, g *auth.Guard) httpx.Group {
	return httpx.Group{Routes: []httpx.Route{
		{Method: http.MethodGet, Path: "/me", Handler: h.me, Middleware: []echo.MiddlewareFunc{g.Authenticate()}},
		{Method: http.MethodGet, Path: "/admin/users/:id", Handler: h.user, Middleware: []echo.MiddlewareFunc{g.RequireRole("admin")}},
	}}
}

type credentials struct {
	Email    string `json:"email" validate:"required,email,max=254"`
	Password string `json:"password" validate:"required,min=10,max=256"`
}

type profile struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Roles     []string  `json:"roles"`
	CreatedAt time.Time `json:"created_at"`
}

func profileOf(u User) profile {
	return profile{ID: u.ID, Email: u.Email, Roles: u.Roles, CreatedAt: u.CreatedAt}
}

func (h *Handlers) register(c echo.Context) error {
	var in credentials
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	hash, err := h.passwords.Hash(ctx, in.Password)
	if err != nil {
		return err
	}
	u := User{ID: newID(), Email: strings.ToLower(in.Email), PasswordHash: hash, Roles: []string{"user"}, CreatedAt: time.Now().UTC()}
	for _, a := range h.cfg.Admins {
		if strings.EqualFold(a, in.Email) {
			u.Roles = append(u.Roles, "admin")
		}
	}
	if err := h.users.Create(ctx, u); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, profileOf(u))
}

var errLogin = httpx.NewProblem(http.StatusUnauthorized, "wrong email or password")

func (h *Handlers) login(c echo.Context) error {
	var in struct {
		Email    string `json:"email" validate:"required,max=254"`
		Password string `json:"password" validate:"required,max=1024"`
	}
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	// Per email, so that one account cannot be guessed at from many IPs.
	r, err := h.limiter.Allow(ctx, "accounts_email:"+strings.ToLower(in.Email), cache.PerMinute(h.cfg.LoginPerEmail))
	switch {
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil: // fail open, as the IP policy does by default
		h.log.Error("login rate limiter failed", zap.Error(err), zap.String("request_id", observe.RequestID(ctx)))
	case !r.Allowed:
		p := httpx.NewProblem(http.StatusTooManyRequests, "too many login attempts for this account; retry later")
		p.Header = http.Header{"Retry-After": {strconv.Itoa(max(1, int(r.RetryAfter.Seconds()+0.999)))}}
		return p
	}
	u, err := h.users.ByEmail(ctx, in.Email)
	if errors.Is(err, ErrNoUser) {
		if err := h.passwords.VerifyNoUser(ctx, in.Password); !errors.Is(err, auth.ErrPasswordMismatch) {
			return err // the context ended while waiting for a hashing slot
		}
		return errLogin
	}
	if err != nil {
		return err
	}
	if err := h.passwords.Verify(ctx, u.PasswordHash, in.Password); err != nil {
		if errors.Is(err, auth.ErrUnknownHash) {
			// A broken row, not the client's fault: answer as for a wrong
			// password, after the same work, so that the answer tells
			// nothing about the account; the operator learns from the log.
			h.log.Error("login: the stored password hash is in no known format; the user cannot log in",
				zap.String("user", u.ID), zap.String("request_id", observe.RequestID(ctx)))
			err = h.passwords.VerifyNoUser(ctx, in.Password)
		}
		if errors.Is(err, auth.ErrPasswordMismatch) {
			return errLogin
		}
		return err
	}
	if h.passwords.NeedsRehash(u.PasswordHash) {
		if hash, err := h.passwords.Hash(ctx, in.Password); err == nil {
			_ = h.users.SetPasswordHash(ctx, u.ID, hash, time.Time{})
		}
	}
	pair, err := h.tokens.Issue(ctx, principal(u))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pair)
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token" validate:"max=128"`
}

func (h *Handlers) refresh(c echo.Context) error {
	var in refreshRequest
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	pair, err := h.tokens.Refresh(c.Request().Context(), in.RefreshToken)
	if err != nil {
		return err // auth.ErrInvalidRefresh is a 401 (the auth module maps it)
	}
	return c.JSON(http.StatusOK, pair)
}

func (h *Handlers) logout(c echo.Context) error {
	var in refreshRequest
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	id, _ := auth.FromContext(c.Request().Context())
	if err := h.tokens.Revoke(c.Request().Context(), auth.RevokeParams{Access: id, RefreshToken: in.RefreshToken}); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// changePassword checks the current password, stores the new one, and
// ends every session of the user at once, on every instance
// (auth.RevokeParams.EverySessionOf): every access token issued before is
// refused from now on and every refresh token fails. The reloader's
// session generation ends the refresh tokens too, durably in the
// database, should the revocation store forget (the memory store, on a
// restart). The caller gets a new pair.
func (h *Handlers) changePassword(c echo.Context) error {
	var in struct {
		Current string `json:"current_password" validate:"required,max=1024"`
		New     string `json:"new_password" validate:"required,min=10,max=256"`
	}
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	id, _ := auth.FromContext(ctx)
	u, err := h.users.ByID(ctx, id.Subject)
	if err != nil {
		return err
	}
	if err := h.passwords.Verify(ctx, u.PasswordHash, in.Current); err != nil {
		if errors.Is(err, auth.ErrPasswordMismatch) {
			return httpx.NewProblem(http.StatusForbidden, "the current password is wrong")
		}
		return err
	}
	hash, err := h.passwords.Hash(ctx, in.New)
	if err != nil {
		return err
	}
	if err := h.users.SetPasswordHash(ctx, u.ID, hash, time.Now().UTC()); err != nil {
		return err
	}
	if err := h.tokens.Revoke(ctx, auth.RevokeParams{EverySessionOf: u.ID}); err != nil {
		return err
	}
	if u, err = h.users.ByID(ctx, u.ID); err != nil { // the new session generation
		return err
	}
	pair, err := h.tokens.Issue(ctx, principal(u))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pair)
}

func (h *Handlers) me(c echo.Context) error {
	id, _ := auth.FromContext(c.Request().Context())
	u, err := h.users.ByID(c.Request().Context(), id.Subject)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, profileOf(u))
}

func (h *Handlers) user(c echo.Context) error {
	u, err := h.users.ByID(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, profileOf(u))
}
