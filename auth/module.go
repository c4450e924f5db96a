package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
	"github.com/redis/rueidis"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth/memory"
	authredis "github.com/apexgo/apex/auth/redis"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/internal/driver"
	"github.com/apexgo/apex/internal/redisconn"
)

// Module provides the "auth" section, the [Tokens] port (a *[JWT]), the
// [Revocations] and [RefreshStore] it uses, a *[Guard], a *[Passwords]
// and a httpx.SubjectFunc (the verified subject, for rate-limit policies
// keyed by subject on routes behind the Guard).
//
// The stores are Redis (auth/redis) when auth.driver is redis, or auto
// with the process's rueidis.Client present (internal/redisconn provides it
// when redis.addr or redis.addrs is set), and in-process (auth/memory)
// otherwise. auth.driver redis without a Redis client is a start error
// naming redis.addr. Replace any of them with fx.Decorate.
//
// HS256 without auth.secret starts in development and test with a random
// per-process secret and a WARN; in production it is a start error.
var Module = fx.Module("auth",
	app.ProvideSection("auth", DefaultConfig),
	fx.Provide(
		newStores,
		fx.Annotate(newTokens, fx.As(new(Tokens))),
		newGuard,
		func(c Config) (*Passwords, error) { return NewPasswords(c.Password) },
		subjectFunc,
		tokenVerifier,
	),
	// Build everything at start even if nothing asks for it yet, so that
	// a bad key or driver stops the app before it serves.
	fx.Invoke(func(Tokens, *Guard, *Passwords) {}),
	// A bad refresh token is a 401 with code invalid_token, the same for
	// every cause (see invalidRefresh).
	httpx.MapErrorCode(ErrInvalidRefresh, http.StatusUnauthorized, httpx.CodeInvalidToken),
	httpx.MapError(ErrPasswordTooLong, http.StatusBadRequest),
	httpx.MapError(ErrStoreFull, http.StatusServiceUnavailable),
	httpx.MapError(ErrUnavailable, http.StatusServiceUnavailable),
)

type storesIn struct {
	fx.In
	Config Config
	Info   app.Info
	Redis  rueidis.Client `optional:"true"`
	// RedisConfig gives the Redis stores redis.command_timeout.
	RedisConfig redisconn.Config `optional:"true"`
}

type storesOut struct {
	fx.Out
	Revocations Revocations
	Refresh     RefreshStore
}

func newStores(in storesIn) (storesOut, error) {
	useRedis, err := driver.UseRedis("auth.driver", in.Config.Driver, in.Redis)
	if err != nil {
		return storesOut{}, err
	}
	if !useRedis {
		mc := memory.Config{MaxEntries: in.Config.Memory.MaxEntries}
		return storesOut{Revocations: memory.NewRevocations(mc), Refresh: memory.NewRefresh(mc)}, nil
	}
	rc := authredis.Config{Prefix: in.Config.Prefix, CommandTimeout: in.RedisConfig.CommandTimeout, LocalEntries: in.Config.VerifyCacheSize}
	if rc.Prefix == "" {
		rc.Prefix = in.Info.Name + ":auth:"
	}
	rv, err := authredis.NewRevocations(in.Redis, rc)
	if err != nil {
		return storesOut{}, err
	}
	rf, err := authredis.NewRefresh(in.Redis, rc)
	if err != nil {
		return storesOut{}, err
	}
	return storesOut{Revocations: rv, Refresh: rf}, nil
}

type tokensIn struct {
	fx.In
	Config      Config
	Info        app.Info
	Log         *zap.Logger
	Revocations Revocations
	Refresh     RefreshStore
	// Reload is the optional hook of [Params.Reload], provided by the
	// service as a ReloadFunc.
	Reload ReloadFunc `optional:"true"`
}

// ReloadFunc is [Params.Reload] as a type the service can provide to the
// module: fx.Provide(func(users *Users) auth.ReloadFunc { return users.Principal }).
type ReloadFunc func(ctx context.Context, s Session) (Principal, error)

func newTokens(in tokensIn) (*JWT, error) {
	c := in.Config
	if c.Issuer == "" {
		c.Issuer = in.Info.Name
	}
	if c.Audience == "" {
		c.Audience = in.Info.Name
	}
	p := Params{
		Config: c, Revocations: in.Revocations, Refresh: in.Refresh, Log: in.Log.Named("auth"),
		RandomSecret: !in.Info.IsProduction(),
	}
	if in.Reload != nil {
		p.Reload = in.Reload
	}
	return New(p)
}

type guardIn struct {
	fx.In
	Config Config
	Info   app.Info
	Tokens Tokens
	Log    *zap.Logger
}

func newGuard(in guardIn) (*Guard, error) {
	h := in.Config.HTTP
	if h.Realm == "" {
		h.Realm = in.Info.Name
	}
	return NewGuard(GuardParams{Tokens: in.Tokens, HTTP: h, Permissions: in.Config.Permissions, Log: in.Log.Named("auth")})
}

// subjectFunc lets cache's rate-limit policies key by the subject the
// Guard verified.
func subjectFunc() httpx.SubjectFunc {
	return func(c echo.Context) string {
		id, _ := FromContext(c.Request().Context())
		return id.Subject
	}
}

// tokenVerifier lets other modules (realtime's connections) verify access
// tokens without importing auth: an expired token is
// httpx.ErrTokenExpired (refresh and retry), a store outage
// httpx.ErrTokenUnavailable, anything else httpx.ErrTokenInvalid.
func tokenVerifier(tokens Tokens) httpx.TokenVerifier {
	return func(ctx context.Context, token string) (httpx.VerifiedToken, error) {
		id, err := tokens.Verify(ctx, token)
		switch {
		case err == nil:
			return httpx.VerifiedToken{Subject: id.Subject, Tenant: id.Tenant, ExpiresAt: id.ExpiresAt}, nil
		case errors.Is(err, ErrUnavailable):
			return httpx.VerifiedToken{}, fmt.Errorf("%w: %w", httpx.ErrTokenUnavailable, err)
		case errors.Is(err, jwt.ErrTokenExpired) && !errors.Is(err, ErrRevoked):
			return httpx.VerifiedToken{}, fmt.Errorf("%w: %w", httpx.ErrTokenExpired, err)
		}
		return httpx.VerifiedToken{}, fmt.Errorf("%w: %w", httpx.ErrTokenInvalid, err)
	}
}
