package httpx

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"
)

// ContextValue is a value that every request's context answers for Key,
// made from the request's echo.Context only when something looks it up:
// the queue module's subject of a request, found when a handler enqueues a
// job (after the route's auth ran). The default stack answers these from
// the one context it makes per request, so they cost a request nothing
// until looked up, where a middleware that wraps the request's context
// costs every request a closure, a context and a copy of the request.
//
// A context derived from the request's (context.WithValue(ctx, Key, v))
// answers its own value first, as usual. Value gets the request's
// echo.Context, which echo reuses once the request is served: look the
// value up while the request is being served.
type ContextValue struct {
	// Key is compared with ==; as for context.WithValue, use a type of
	// your own package's so that no other package's key equals it.
	Key any
	// Value makes the value from the request.
	Value func(c echo.Context) any
}

const contextValueGroup = "httpx.context_values"

// AsContextValues annotates a constructor of a []ContextValue (none when
// what it adds is off) for [Module] to give to the default stack.
func AsContextValues(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"`+contextValueGroup+`,flatten"`))
}

// checkContextValues reports a ContextValue without a key or function, with
// a key that cannot be compared, or with the key of another.
func checkContextValues(vs []ContextValue) error {
	var errs []error
	for i, v := range vs {
		switch {
		case v.Key == nil || v.Value == nil:
			errs = append(errs, fmt.Errorf("httpx: ContextValue %d has no Key or no Value", i))
		case !reflect.TypeOf(v.Key).Comparable():
			errs = append(errs, fmt.Errorf("httpx: ContextValue %d: key of type %T cannot be compared", i, v.Key))
		default:
			for _, w := range vs[:i] {
				if w.Key == v.Key {
					errs = append(errs, fmt.Errorf("httpx: two ContextValues have the key %v (%T)", v.Key, v.Key))
				}
			}
		}
	}
	return errors.Join(errs...)
}
