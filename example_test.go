package apex_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/httpx"
)

// A service is apex.Modules plus your own constructors and routes.
func Example() {
	hello := func() httpx.Route {
		return httpx.Route{Method: http.MethodGet, Path: "/hello", Handler: func(c echo.Context) error {
			return c.String(http.StatusOK, "hello")
		}}
	}
	var srv *httpx.Server
	a := fx.New(
		fx.Options(apex.Modules...),
		// In a real main, config comes from config/*.yaml and APP_* variables.
		fx.Supply(&app.LoadParams{DotEnv: "-", Environ: []string{}, Overrides: map[string]any{
			"http.addr": "127.0.0.1:0", "observe.log.level": "error", "data.dsn": "sqlite::memory:",
		}}),
		fx.Provide(httpx.AsRoute(hello)),
		fx.Populate(&srv),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer a.Stop(ctx)

	resp, err := http.Get("http://" + srv.Addr().String() + "/hello")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	// Output: 200 text/plain; charset=UTF-8
}
