// Command repository is a small orders API laid out the hexagonal way
// apex is built for:
//
//   - orders: the domain — entity, the Repository port, business rules;
//     no gorm, no apex.
//   - orders/gormrepo: the adapter on gorm through data.Registry, so it
//     joins data.InTx transactions and follows tenants unchanged.
//   - orders/memrepo: an in-memory adapter for unit tests.
//   - orders/orderstest: the contract both adapters pass.
//   - here: HTTP handlers and the fx wiring.
//
// It runs with nothing installed (SQLite in var/repository.db), or on Postgres
// or MySQL with APP_DATA__DSN; the migrations run at start:
//
//	go run ./examples/repository
//	curl -s localhost:8080/orders -H 'Content-Type: application/json' -d '{"reference":"r-1","customer":"ann","total_cents":1999}'
//	curl -s localhost:8080/orders/<id>
//	curl -s 'localhost:8080/orders?customer=ann'
package main

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/examples/repository/migrations"
	"github.com/apexgo/apex/examples/repository/orders"
	"github.com/apexgo/apex/examples/repository/orders/gormrepo"
	"github.com/apexgo/apex/httpx"
)

func main() {
	apex.Run(options()...)
}

// options is the whole app.
func options() []fx.Option {
	return append(modules(),
		fx.Supply(data.Migrations{FS: migrations.FS()}),
		// This example always migrates at start (a team would rather set
		// data.migrate.on_start in config/default.yaml) and keeps its
		// SQLite fallback in a file of its own.
		fx.Decorate(ownDatabase),
		fx.Provide(
			fx.Annotate(gormrepo.New, fx.As(new(orders.Repository))),
			gormrepo.Transactor,
			orders.NewService,
			httpx.AsGroup(routes),
		),
		httpx.MapError(orders.ErrNotFound, http.StatusNotFound),
		httpx.MapError(orders.ErrDuplicate, http.StatusConflict),
		httpx.MapError(orders.ErrInvalid, http.StatusUnprocessableEntity),
	)
}

// SQLitePath is this example's SQLite file when data.dsn is unset: its
// own, so that its tables and goose version table never meet another
// example's (examples/migrate has var/migrate.db).
const SQLitePath = "var/repository.db"

// ownDatabase turns data.migrate.on_start on and puts the SQLite fallback
// in SQLitePath unless data.sqlite_path was set.
func ownDatabase(c data.Config) data.Config {
	c.Migrate.OnStart = true
	if c.SQLitePath == data.DefaultSQLitePath {
		c.SQLitePath = SQLitePath
	}
	return c
}

// modules is every apex module, data included.
func modules() []fx.Option { return apex.Modules }

func routes(svc *orders.Service) httpx.Group {
	return httpx.Group{Prefix: "/orders", Routes: []httpx.Route{
		{Method: http.MethodPost, Path: "", Handler: func(c echo.Context) error {
			var p orders.PlaceParams
			if err := httpx.Bind(c, &p); err != nil {
				return err
			}
			o, err := svc.Place(c.Request().Context(), p)
			if err != nil {
				return err
			}
			return c.JSON(http.StatusCreated, o)
		}},
		{Method: http.MethodPost, Path: "/batch", Handler: func(c echo.Context) error {
			var ps []orders.PlaceParams
			if err := httpx.Bind(c, &ps); err != nil {
				return err
			}
			out, err := svc.PlaceAll(c.Request().Context(), ps)
			if err != nil {
				return err
			}
			return c.JSON(http.StatusCreated, out)
		}},
		{Method: http.MethodGet, Path: "/:id", Handler: func(c echo.Context) error {
			o, err := svc.Get(c.Request().Context(), c.Param("id"))
			if err != nil {
				return err
			}
			return c.JSON(http.StatusOK, o)
		}},
		{Method: http.MethodGet, Path: "", Handler: func(c echo.Context) error {
			customer := c.QueryParam("customer")
			if customer == "" {
				return httpx.NewProblem(http.StatusBadRequest, "the customer query parameter is required")
			}
			list, err := svc.ByCustomer(c.Request().Context(), customer)
			if err != nil {
				return err
			}
			return c.JSON(http.StatusOK, list)
		}},
	}}
}
