package auth_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/httpx"
)

// Secure, SecurePermissions and SecureGroup enforce what they document in
// Doc.Security, run before the route's own middleware, and leave the
// routes they are given unchanged.
func TestGuardSecure(t *testing.T) {
	t.Parallel()
	j := newJWT(t, testConfig())
	g := newGuard(t, j)
	h, err := httpx.NewErrorHandler(zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.HTTPErrorHandler = h.Handle

	var order []string
	mark := func(name string) echo.MiddlewareFunc {
		return func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				if _, ok := auth.FromContext(c.Request().Context()); ok {
					order = append(order, name+" after auth")
				} else {
					order = append(order, name+" before auth")
				}
				return next(c)
			}
		}
	}
	me := func(c echo.Context) error {
		id, _ := auth.FromContext(c.Request().Context())
		return c.String(http.StatusOK, id.Subject)
	}
	own := []echo.MiddlewareFunc{mark("route")}
	plain := httpx.Route{Method: http.MethodGet, Path: "/any", Handler: me, Middleware: own, Doc: httpx.Doc{Summary: "s"}}
	anyToken := g.Secure(plain)
	admins := g.Secure(httpx.Route{Method: http.MethodGet, Path: "/admins", Handler: me}, "admin", "editor")
	reports := g.SecurePermissions(httpx.Route{Method: http.MethodGet, Path: "/reports", Handler: me}, "reports:read")
	group := httpx.Group{Prefix: "/g", Middleware: []echo.MiddlewareFunc{mark("group")}, Routes: []httpx.Route{
		{Method: http.MethodGet, Path: "/x", Handler: me, Doc: httpx.Doc{Security: &httpx.Security{Permissions: []string{"p"}}}},
	}}
	secured := g.SecureGroup(group, "admin")
	if err := httpx.Register(e, []httpx.Group{secured}, []httpx.Route{anyToken, admins, reports}); err != nil {
		t.Fatal(err)
	}

	// What is documented.
	if plain.Doc.Security != nil || len(plain.Middleware) != 1 || group.Routes[0].Doc.Security.Roles != nil || len(group.Middleware) != 1 {
		t.Error("the given route or group was changed")
	}
	if s := anyToken.Doc.Security; s == nil || len(s.Roles) != 0 || anyToken.Doc.Summary != "s" {
		t.Errorf("Secure(route): %+v", anyToken.Doc)
	}
	if s := admins.Doc.Security; s == nil || !slices.Equal(s.Roles, []string{"admin", "editor"}) {
		t.Errorf("Secure(route, roles): %+v", s)
	}
	if s := reports.Doc.Security; s == nil || !slices.Equal(s.Permissions, []string{"reports:read"}) || len(s.Roles) != 0 {
		t.Errorf("SecurePermissions: %+v", s)
	}
	if s := secured.Routes[0].Doc.Security; s == nil || !slices.Equal(s.Roles, []string{"admin"}) || !slices.Equal(s.Permissions, []string{"p"}) {
		t.Errorf("SecureGroup: %+v", s)
	}

	// What is enforced.
	admin := issue(t, j, auth.Principal{Subject: "ada", Roles: []string{"admin"}})
	editor := issue(t, j, auth.Principal{Subject: "ed", Roles: []string{"editor"}})
	auditor := issue(t, j, auth.Principal{Subject: "aud", Roles: []string{"auditor"}})
	for _, tc := range []struct {
		path, token string
		status      int
	}{
		{"/any", "", 401}, {"/any", auditor, 200},
		{"/admins", "", 401}, {"/admins", auditor, 403}, {"/admins", editor, 200}, {"/admins", admin, 200},
		{"/reports", "", 401}, {"/reports", editor, 403}, {"/reports", auditor, 200},
		{"/g/x", "", 401}, {"/g/x", editor, 403}, {"/g/x", admin, 200},
	} {
		var h []string
		if tc.token != "" {
			h = bearer(tc.token)
		}
		if rec := get(e, tc.path, h...); rec.Code != tc.status {
			t.Errorf("%s with %q: %d, want %d: %s", tc.path, tc.token, rec.Code, tc.status, rec.Body)
		}
	}
	order = nil
	get(e, "/any", bearer(auditor)...)
	get(e, "/g/x", bearer(admin)...)
	if want := []string{"route after auth", "group after auth"}; !slices.Equal(order, want) {
		t.Errorf("middleware order %v, want %v", order, want)
	}
}
