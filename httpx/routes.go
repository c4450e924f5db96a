package httpx

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"
)

// Route is one handler at a method and path.
type Route struct {
	// Method is an HTTP method such as GET.
	Method string
	// Path is an echo path: /orders/:id.
	Path string
	// Handler serves the route.
	Handler echo.HandlerFunc
	// Middleware runs for this route only, after the group's.
	Middleware []echo.MiddlewareFunc
	// Doc describes the route in the OpenAPI document; the zero Doc still
	// lists it with what can be inferred (see [Doc]).
	Doc Doc
}

// Group is a set of routes under one path prefix that share middleware: a
// resource, a controller, an API version.
type Group struct {
	// Prefix starts every route's path; "" is the root.
	Prefix string
	// Middleware runs for every route of the group, after the app's.
	Middleware []echo.MiddlewareFunc
	// Routes are registered under Prefix.
	Routes []Route
}

// Middleware is app-wide middleware added through fx, run after apex's
// default stack, by ascending Order, then Name.
type Middleware struct {
	// Name identifies it in errors and orders equal Orders.
	Name string
	// Order places it: lower runs first (further out). Default 0.
	Order int
	// Func is the middleware.
	Func echo.MiddlewareFunc
}

const (
	routeGroup      = "httpx.routes"
	groupGroup      = "httpx.groups"
	middlewareGroup = "httpx.middleware"
)

// AsRoute annotates a constructor of a [Route] so that the httpx module
// registers it before the server starts:
//
//	fx.Provide(httpx.AsRoute(NewGetOrder))
func AsRoute(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"`+routeGroup+`"`))
}

// AsGroup annotates a constructor of a [Group].
func AsGroup(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"`+groupGroup+`"`))
}

// AsMiddleware annotates a constructor of a [Middleware].
func AsMiddleware(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"`+middlewareGroup+`"`))
}

// AsMiddlewares annotates a constructor of a []Middleware, for a module
// whose middleware depends on its configuration (none when it is off).
func AsMiddlewares(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"`+middlewareGroup+`,flatten"`))
}

var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true, echo.PROPFIND: true,
	echo.REPORT: true, http.MethodConnect: true, http.MethodTrace: true,
}

// Register adds groups and routes to e. A route without a handler, with an
// unknown method or a path not starting with "/", or registered twice, is
// an error naming it: echo itself would silently keep the last one.
func Register(e *echo.Echo, groups []Group, routes []Route) error {
	seen := map[string]bool{}
	for _, r := range e.Routes() {
		seen[r.Method+" "+r.Path] = true
	}
	check := func(prefix string, r Route) error {
		full := prefix + r.Path
		switch {
		case r.Handler == nil:
			return fmt.Errorf("httpx: route %s %s has no handler", r.Method, full)
		case !knownMethods[r.Method]:
			return fmt.Errorf("httpx: route %s %s: unknown method", r.Method, full)
		case !strings.HasPrefix(full, "/"):
			return fmt.Errorf("httpx: route %s %q: path must start with /", r.Method, full)
		case seen[r.Method+" "+full]:
			return fmt.Errorf("httpx: route %s %s is registered twice", r.Method, full)
		}
		seen[r.Method+" "+full] = true
		return nil
	}
	for _, g := range groups {
		if g.Prefix != "" && !strings.HasPrefix(g.Prefix, "/") {
			return fmt.Errorf("httpx: group prefix %q must start with /", g.Prefix)
		}
		for _, r := range g.Routes {
			if err := check(g.Prefix, r); err != nil {
				return err
			}
		}
		eg := e.Group(g.Prefix, g.Middleware...)
		for _, r := range g.Routes {
			eg.Add(r.Method, r.Path, r.Handler, r.Middleware...)
		}
	}
	for _, r := range routes {
		if err := check("", r); err != nil {
			return err
		}
		e.Add(r.Method, r.Path, r.Handler, r.Middleware...)
	}
	return nil
}
