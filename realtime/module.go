package realtime

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/internal/driver"
	"github.com/apexgo/apex/internal/redisconn"
	"github.com/apexgo/apex/realtime/hub"
	"github.com/apexgo/apex/realtime/memory"
	"github.com/apexgo/apex/realtime/redis"
)

// Module provides the "realtime" section, the [Hub] and [Subscriber]
// ports, the transports on the HTTP server (realtime.paths), a "realtime"
// readiness check (the broker answers), and, with
// realtime.job_events.enabled, an app.JobEventSink that pushes job status
// changes to the enqueuing subject's user channel.
//
// It uses Redis (centrifuge's broker and presence manager) when the
// process has a Redis client (driver auto or redis) and process memory
// otherwise; driver redis without redis.addr is a start error. It takes
// the auth module's token verifier (auth.Tokens), the cache module's
// limiter (for client publications) and an [Authorizer] from the
// container when they are there. On stop, before the HTTP server drains,
// every client is told to reconnect elsewhere (code 3001).
var Module = fx.Module("realtime",
	app.ProvideSection("realtime", DefaultConfig),
	fx.Provide(fx.Private, newHub),
	fx.Provide(
		func(h *hub.Hub) Hub { return h },
		func(h *hub.Hub) Subscriber { return h },
		httpx.AsGroup(newRoutes),
		httpx.AsHealthCheck(func(h *hub.Hub) httpx.HealthCheck { return httpx.CheckFunc("realtime", h.Check) }),
		fx.Annotate(newJobEventSinks, fx.ResultTags(`group:"`+app.JobEventSinksGroup+`,flatten"`)),
	),
	fx.Invoke(func(Hub) {}),
)

type hubIn struct {
	fx.In
	Lifecycle  fx.Lifecycle
	State      *app.State `optional:"true"`
	Config     Config
	Redis      redisconn.Config
	Info       app.Info
	Client     rueidis.Client `optional:"true"`
	Registry   *prometheus.Registry
	Log        *zap.Logger
	Tokens     httpx.TokenVerifier `optional:"true"`
	Limiter    httpx.KeyLimiter    `optional:"true"`
	Authorizer Authorizer          `optional:"true"`
}

func newHub(in hubIn) (*hub.Hub, error) {
	useRedis, err := driver.UseRedis("realtime.driver", in.Config.Driver, in.Client)
	if err != nil {
		return nil, err
	}
	if in.Tokens == nil && !in.Config.AllowAnonymous {
		in.Log.Warn("realtime: no token verifier in the app (the auth module provides one) and realtime.allow_anonymous is false: every client connection will be refused; the server can still publish",
			zap.String("env", app.EnvName("realtime.allow_anonymous")))
	}
	cfg := hub.Config{
		Name:                  in.Info.Name,
		Namespaces:            in.Config.namespaces(),
		UserNamespace:         in.Config.UserNamespace,
		AllowAnonymous:        in.Config.AllowAnonymous,
		Authorize:             in.Authorizer,
		Limits:                in.Config.limits(),
		RecheckInterval:       in.Config.RecheckInterval,
		PositionCheckInterval: in.Config.PositionCheckInterval,
		CommandTimeout:        in.Redis.CommandTimeout,
		Log:                   in.Log,
		Registry:              in.Registry,
	}
	if in.Tokens != nil {
		cfg.Authenticate = Authenticate(in.Tokens)
	}
	if in.Limiter != nil {
		rate, burst := in.Config.Limits.PublishRate, in.Config.Limits.PublishBurst
		cfg.AllowPublish = func(ctx context.Context, subject string) (bool, error) {
			return in.Limiter(ctx, "realtime:publish:"+subject, rate, time.Second, burst)
		}
	}
	var h *hub.Hub
	if useRedis {
		rc, err := redisConfig(in)
		if err != nil {
			return nil, err
		}
		h, err = redis.New(rc, cfg)
		if err != nil {
			return nil, fmt.Errorf("%w (realtime uses redis.addr/redis.addrs, %s)", err, app.EnvName("redis.addr"))
		}
	} else {
		h, err = memory.New(cfg)
		if err != nil {
			return nil, err
		}
	}
	in.Lifecycle.Append(fx.Hook{
		OnStart: func(context.Context) error {
			// Registered now, after the HTTP server registered its drain in
			// its constructor, so that it runs first: clients are told to
			// reconnect while the server still runs, and their streams end
			// before the server waits for in-flight requests. The hub keeps
			// publishing until its stop hook, after the job workers'.
			if in.State != nil {
				in.State.DrainFirst(h.Drain)
			}
			return nil
		},
		OnStop: func(ctx context.Context) error { return errors.Join(h.Drain(ctx), h.Shutdown(ctx)) },
	})
	return h, nil
}

// Authenticate adapts the auth module's token verifier to the hub: an
// expired token asks the client to refresh, an invalid or revoked one is
// refused, a store outage is "try again".
func Authenticate(verify httpx.TokenVerifier) hub.Authenticator {
	return func(ctx context.Context, token string) (hub.Identity, error) {
		id, err := verify(ctx, token)
		switch {
		case err == nil:
			return hub.Identity{Subject: id.Subject, ExpiresAt: id.ExpiresAt}, nil
		case errors.Is(err, httpx.ErrTokenUnavailable):
			return hub.Identity{}, err
		case errors.Is(err, httpx.ErrTokenExpired):
			return hub.Identity{}, fmt.Errorf("%w: %w", hub.ErrTokenExpired, err)
		default:
			return hub.Identity{}, fmt.Errorf("%w: %w", hub.ErrTokenInvalid, err)
		}
	}
}

// redisConfig maps apex's redis.* section onto centrifuge's shard
// config: the same server, credentials, database, TLS and timeouts.
func redisConfig(in hubIn) (redis.Config, error) {
	r := in.Redis
	prefix := in.Config.Prefix
	if prefix == "" {
		prefix = in.Info.Name + ":realtime"
	}
	c := redis.Config{
		Addr: r.Addr, Addrs: r.Addrs, MasterName: r.MasterName,
		Username: r.Username, Password: r.Password.Reveal(), DB: r.DB,
		DialTimeout: r.DialTimeout, IOTimeout: r.CommandTimeout,
		ClientName: in.Info.Name + "-realtime", Prefix: prefix,
		PresenceTTL: in.Config.PresenceTTL, Client: in.Client,
	}
	if r.TLS.Enabled {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: r.TLS.ServerName, InsecureSkipVerify: r.TLS.InsecureSkipVerify} //nolint:gosec // opt-in, documented as tests only
		if r.TLS.CAFile != "" {
			pem, err := os.ReadFile(r.TLS.CAFile)
			if err != nil {
				return c, fmt.Errorf("redis.tls.ca_file: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return c, errors.New("redis.tls.ca_file: no PEM certificate found")
			}
		}
		c.TLS = tc
	}
	return c, nil
}

// newRoutes puts the transports on the HTTP server at realtime.paths.
func newRoutes(cfg Config, h *hub.Hub) httpx.Group {
	hs := h.Handlers(func(r *http.Request) string { return hub.RemoteIP(r.Context()) })
	serve := func(next http.Handler) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			// c.RealIP(): the client behind http.trusted_proxies (httpx.ClientIP).
			next.ServeHTTP(c.Response(), r.WithContext(hub.WithRemoteIP(r.Context(), c.RealIP())))
			return nil
		}
	}
	var routes []httpx.Route
	add := func(path string, next http.Handler, methods ...string) {
		if path == "" {
			return
		}
		for _, m := range methods {
			routes = append(routes, httpx.Route{Method: m, Path: path, Handler: serve(next)})
		}
	}
	add(cfg.Paths.WebSocket, hs.WebSocket, http.MethodGet)
	add(cfg.Paths.SSE, hs.SSE, http.MethodGet, http.MethodPost)
	add(cfg.Paths.HTTPStream, hs.HTTPStream, http.MethodPost)
	add(cfg.Paths.Emulation, hs.Emulation, http.MethodPost)
	return httpx.Group{Routes: routes}
}
