package auth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/observe"
)

type identityKey struct{}

// WithIdentity returns a copy of ctx carrying id, as the middleware does;
// for tests and for code that authenticates by other means.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, &id)
}

// FromContext returns the identity the middleware verified for this
// request, and whether there is one:
//
//	id, ok := auth.FromContext(c.Request().Context())
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(*Identity)
	if !ok {
		return Identity{}, false
	}
	return *id, true
}

// Guard is the HTTP side of auth: echo middleware that authenticates
// requests with a bearer token and checks roles and permissions, usable
// per route (httpx.Route.Middleware) and per group (httpx.Group.Middleware).
//
// The token comes from the Authorization header ("Bearer <token>"), else
// from the configured cookie (auth.http.cookie), else — only on the routes
// of [Guard.AuthenticateWebSocket] and only on WebSocket upgrade requests
// — from the configured query parameter (auth.http.query_param). A missing token is a 401 problem with
// `WWW-Authenticate: Bearer realm="…"`; an invalid one a 401 with
// error="invalid_token" and nothing more about which check failed (RFC
// 6750 §3). When the request carries a tenant (app.Tenant, set by the data
// module's tenancy middleware, which must run first), the token's tenant
// must match it: a 403 otherwise. A missing role or permission is a 403
// with error="insufficient_scope". A failing revocation store is a 503.
// The problems carry codes (httpx.Problem.Code): unauthorized for a
// missing token, invalid_token for a bad one or a malformed Authorization
// header, insufficient_scope for a missing role or permission, forbidden
// for another tenant's token, unavailable for the 503.
// Tokens are never logged. The middleware returns *httpx.Problem errors:
// the httpx module's error handler (httpx.NewErrorHandler without fx)
// turns them into responses.
type Guard struct {
	tokens      Tokens
	cfg         HTTPConfig
	permissions map[string]map[string]bool // permission → roles granting it
	log         *zap.Logger
	challenge   string
	down        *httpx.Unavailable // a failing token store: 503, one ERROR a minute
}

// GuardParams configures [NewGuard].
type GuardParams struct {
	Tokens Tokens
	HTTP   HTTPConfig
	// Permissions maps a role to the permissions it grants.
	Permissions map[string][]string
	// Log receives a DEBUG line per rejected token (the reason, never the
	// token) and, while the token store fails, an ERROR at most once a
	// minute (the 503s themselves are not logged one by one). Default:
	// none.
	Log *zap.Logger
}

// NewGuard returns a Guard verifying with p.Tokens.
func NewGuard(p GuardParams) (*Guard, error) {
	if p.Tokens == nil {
		return nil, errors.New("auth: NewGuard needs Tokens")
	}
	g := &Guard{tokens: p.Tokens, cfg: p.HTTP, permissions: map[string]map[string]bool{}, log: p.Log,
		down: httpx.NewUnavailable(httpx.UnavailableParams{
			Log: p.Log, Message: "auth: cannot verify tokens; answering 503", Detail: "authentication is unavailable; retry later",
		})}
	if g.log == nil {
		g.log = zap.NewNop()
	}
	for role, perms := range p.Permissions {
		for _, perm := range perms {
			if g.permissions[perm] == nil {
				g.permissions[perm] = map[string]bool{}
			}
			g.permissions[perm][role] = true
		}
	}
	g.challenge = "Bearer"
	if p.HTTP.Realm != "" {
		g.challenge += ` realm="` + strings.ReplaceAll(p.HTTP.Realm, `"`, "") + `"`
	}
	return g, nil
}

// Authenticate requires a valid token and puts its [Identity] in the
// request context. It never reads the query parameter.
func (g *Guard) Authenticate() echo.MiddlewareFunc { return g.middleware(true, false) }

// middleware authenticates each request before next; see authenticate.
func (g *Guard) middleware(required, query bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if _, err := g.authenticate(c, required, query); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// AuthenticateWebSocket is Authenticate for a WebSocket upgrade route:
// on an upgrade request (Upgrade: websocket, Connection: upgrade) it also
// accepts the token in the query parameter auth.http.query_param, since
// browsers cannot set headers there. Use it on those routes only: a token
// in a URL ends up in proxy logs and browser history. Without
// auth.http.query_param it is Authenticate.
func (g *Guard) AuthenticateWebSocket() echo.MiddlewareFunc {
	if g.cfg.QueryParam == "" {
		g.log.Warn("auth: AuthenticateWebSocket without auth.http.query_param: the token is read from the Authorization header and cookie only")
	}
	return g.middleware(true, true)
}

// Optional authenticates a request that carries a token (an invalid one
// is still a 401) and lets one without a token through with no identity.
func (g *Guard) Optional() echo.MiddlewareFunc { return g.middleware(false, false) }

// RequireRole lets through identities with role; it authenticates first
// if no earlier middleware did.
func (g *Guard) RequireRole(role string) echo.MiddlewareFunc {
	return g.require(func(id Identity) bool { return id.HasRole(role) })
}

// RequireAnyRole lets through identities with at least one of roles.
func (g *Guard) RequireAnyRole(roles ...string) echo.MiddlewareFunc {
	return g.require(func(id Identity) bool {
		for _, r := range roles {
			if id.HasRole(r) {
				return true
			}
		}
		return false
	})
}

// RequirePermission lets through identities with a role that grants perm
// in auth.permissions. A permission no role grants (a typo, a missing
// config entry) is logged at WARN when the middleware is made.
func (g *Guard) RequirePermission(perm string) echo.MiddlewareFunc {
	granting := g.permissions[perm]
	if len(granting) == 0 {
		g.log.Warn("auth: no role in auth.permissions grants this permission; every request will be refused", zap.String("permission", perm))
	}
	return g.require(func(id Identity) bool {
		for _, r := range id.Roles {
			if granting[r] {
				return true
			}
		}
		return false
	})
}

// Secure returns r behind the Guard: it requires a valid bearer token
// and, when roles are given, one of them (as [Guard.RequireAnyRole]); the
// checks run before r's own middleware. It also sets r.Doc.Security, so
// that the OpenAPI document states the bearer requirement, the roles and
// the 401 and 403 responses; permissions already in r.Doc.Security are
// kept (use [Guard.SecurePermissions] to require them). r is not changed:
//
//	guard.Secure(httpx.Route{Method: http.MethodDelete, Path: "/orders/:id", Handler: del}, "admin")
func (g *Guard) Secure(r httpx.Route, roles ...string) httpx.Route {
	r.Middleware = append(g.secureChain(roles, nil), r.Middleware...)
	r.Doc.Security = addSecurity(r.Doc.Security, roles, nil)
	return r
}

// SecurePermissions is [Guard.Secure] requiring each of perms (as
// [Guard.RequirePermission]) instead of a role.
func (g *Guard) SecurePermissions(r httpx.Route, perms ...string) httpx.Route {
	r.Middleware = append(g.secureChain(nil, perms), r.Middleware...)
	r.Doc.Security = addSecurity(r.Doc.Security, nil, perms)
	return r
}

// SecureGroup is [Guard.Secure] for every route of gr: the checks run
// before the group's own middleware, and every route's Doc.Security is
// set. gr is not changed.
func (g *Guard) SecureGroup(gr httpx.Group, roles ...string) httpx.Group {
	gr.Middleware = append(g.secureChain(roles, nil), gr.Middleware...)
	routes := make([]httpx.Route, len(gr.Routes))
	for i, r := range gr.Routes {
		r.Doc.Security = addSecurity(r.Doc.Security, roles, nil)
		routes[i] = r
	}
	gr.Routes = routes
	return gr
}

// secureChain authenticates, then checks roles (any of) and perms (each).
// The result is a new slice, so that appending to it never writes into a
// caller's.
func (g *Guard) secureChain(roles, perms []string) []echo.MiddlewareFunc {
	chain := []echo.MiddlewareFunc{g.Authenticate()}
	if len(roles) > 0 {
		chain = append(chain, g.RequireAnyRole(slices.Clone(roles)...))
	}
	for _, p := range perms {
		chain = append(chain, g.RequirePermission(p))
	}
	return chain
}

// addSecurity returns a copy of s (nil: none) with roles and perms added,
// each once.
func addSecurity(s *httpx.Security, roles, perms []string) *httpx.Security {
	out := &httpx.Security{}
	if s != nil {
		out.Roles, out.Permissions = slices.Clone(s.Roles), slices.Clone(s.Permissions)
	}
	for _, r := range roles {
		if !slices.Contains(out.Roles, r) {
			out.Roles = append(out.Roles, r)
		}
	}
	for _, p := range perms {
		if !slices.Contains(out.Permissions, p) {
			out.Permissions = append(out.Permissions, p)
		}
	}
	return out
}

// Can reports whether id holds perm through one of its roles.
func (g *Guard) Can(id Identity, perm string) bool {
	for _, r := range id.Roles {
		if g.permissions[perm][r] {
			return true
		}
	}
	return false
}

func (g *Guard) require(allowed func(Identity) bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id, ok := FromContext(c.Request().Context())
			if !ok {
				var err error
				if id, err = g.authenticate(c, true, false); err != nil {
					return err
				}
			}
			if !allowed(id) {
				p := httpx.NewProblem(http.StatusForbidden, "insufficient permissions for this resource")
				p.Code = httpx.CodeInsufficientScope
				p.Header = http.Header{"WWW-Authenticate": {g.challenge + `, error="insufficient_scope"`}}
				return p
			}
			return next(c)
		}
	}
}

// authenticate verifies the request's token and stores the identity; with
// required false a request without a token passes with a zero Identity;
// with query true, a WebSocket upgrade may carry it in the query.
func (g *Guard) authenticate(c echo.Context, required, query bool) (Identity, error) {
	req := c.Request()
	ctx := req.Context()
	token, found, malformed := g.token(c, query)
	if malformed {
		g.log.Debug("auth: malformed Authorization header", zap.String("request_id", observe.RequestID(ctx)))
		return Identity{}, g.unauthorized("invalid_request", "the Authorization header is malformed")
	}
	if !found {
		if !required {
			return Identity{}, nil
		}
		p := httpx.NewProblem(http.StatusUnauthorized, "authentication is required")
		p.Code = httpx.CodeUnauthorized
		p.Header = http.Header{"WWW-Authenticate": {g.challenge}}
		return Identity{}, p
	}
	id, err := g.tokens.Verify(ctx, token)
	if err != nil {
		if errors.Is(err, ErrInvalidToken) {
			g.log.Debug("auth: token rejected", zap.Error(err), zap.String("request_id", observe.RequestID(ctx)))
			return Identity{}, g.unauthorized("invalid_token", "the access token is invalid or expired")
		}
		if ctx.Err() != nil {
			return Identity{}, ctx.Err()
		}
		return Identity{}, g.down.Problem(ctx, err)
	}
	if tenant, ok := app.Tenant(ctx); ok && id.Tenant != tenant {
		p := httpx.NewProblem(http.StatusForbidden, "the access token is not valid for this tenant")
		p.Code = httpx.CodeForbidden
		return Identity{}, p
	}
	c.SetRequest(req.WithContext(context.WithValue(ctx, identityKey{}, &id)))
	return id, nil
}

func (g *Guard) unauthorized(code, detail string) *httpx.Problem {
	p := httpx.NewProblem(http.StatusUnauthorized, detail)
	p.Code = httpx.CodeInvalidToken
	p.Header = http.Header{"WWW-Authenticate": {g.challenge + `, error="` + code + `"`}}
	return p
}

// token finds the request's token: found when one was presented,
// malformed when the Authorization header is not a usable Bearer
// credential. query allows the query parameter on a WebSocket upgrade.
func (g *Guard) token(c echo.Context, query bool) (token string, found, malformed bool) {
	req := c.Request()
	if hs := req.Header.Values("Authorization"); len(hs) > 0 {
		if len(hs) > 1 {
			return "", false, true
		}
		t, ok := BearerToken(hs[0])
		if !ok {
			return "", false, true
		}
		return t, true, false
	}
	if g.cfg.Cookie != "" {
		if ck, err := req.Cookie(g.cfg.Cookie); err == nil && ck.Value != "" {
			return ck.Value, true, false
		}
	}
	if query && g.cfg.QueryParam != "" && isWebSocketUpgrade(req) {
		if t := req.URL.Query().Get(g.cfg.QueryParam); t != "" {
			return t, true, false
		}
	}
	return "", false, false
}

// BearerToken extracts the token of an Authorization header value
// "Bearer <token>" (scheme case-insensitive, RFC 6750 §2.1): false for
// another scheme, an empty token, or characters outside the b64token
// syntax.
func BearerToken(header string) (string, bool) {
	const scheme = "bearer "
	if len(header) <= len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return "", false
	}
	t := strings.TrimLeft(header[len(scheme):], " ")
	if t == "" {
		return "", false
	}
	for i := 0; i < len(t); i++ {
		ch := t[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9':
		case ch == '-', ch == '.', ch == '_', ch == '~', ch == '+', ch == '/':
		case ch == '=' && i > 0:
		default:
			return "", false
		}
	}
	return t, true
}

func isWebSocketUpgrade(r *http.Request) bool {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), "upgrade") {
				return true
			}
		}
	}
	return false
}
