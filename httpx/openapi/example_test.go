package openapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/labstack/echo/v4"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/httpx/openapi"
)

// CreateOrder is what POST /orders binds: the JSON body, with its
// validation rules, which become schema constraints.
type CreateOrder struct {
	SKU      string `json:"sku" validate:"required,alphanum,max=12"`
	Quantity int    `json:"quantity" validate:"gte=1,lte=100"`
	Email    string `json:"email,omitempty" validate:"omitempty,email"`
}

// GetOrder is what GET /orders/:id binds: a path and a query parameter.
type GetOrder struct {
	ID     int    `param:"id" validate:"gte=1"`
	Fields string `query:"fields" validate:"omitempty,oneof=summary full"`
}

// Order is the response body.
type Order struct {
	ID       int    `json:"id"`
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// Routes carry an httpx.Doc; the document is generated from the echo
// server's routes, with or without one. In an fx app, the openapi module
// (in apex.Modules) does all of this at start; without fx, New builds the
// document and a Handler serves it.
func Example() {
	e := echo.New()
	routes := []httpx.Route{
		{Method: http.MethodPost, Path: "/orders", Handler: func(c echo.Context) error { return nil },
			Doc: httpx.Doc{
				Summary: "Create an order", Tags: []string{"orders"}, OperationID: "createOrder",
				Request:   CreateOrder{},
				Responses: map[int]any{http.StatusCreated: Order{}, http.StatusConflict: nil},
			}},
		{Method: http.MethodGet, Path: "/orders/:id", Handler: func(c echo.Context) error { return nil },
			Doc: httpx.Doc{
				Summary: "Get an order", Tags: []string{"orders"},
				Request:   GetOrder{},
				Responses: map[int]any{http.StatusOK: Order{}},
				Security:  &httpx.Security{Roles: []string{"clerk"}}, // auth's Guard.Secure sets this
			}},
		// No Doc: listed with its path parameter and the problem responses.
		{Method: http.MethodDelete, Path: "/orders/:id", Handler: func(c echo.Context) error { return nil }},
	}
	if err := httpx.Register(e, nil, routes); err != nil {
		panic(err)
	}
	cfg := httpx.DefaultConfig().OpenAPI
	h := openapi.NewHandler(cfg, "Orders")
	h.Register(e) // GET /openapi.json, /openapi.yaml, /docs
	doc, err := openapi.New(openapi.Params{Config: cfg, Info: app.Info{Name: "orders", Version: "1.0.0"}, Echo: e, Routes: routes})
	if err != nil {
		panic(err) // a duplicate OperationID, a type that cannot be reflected...
	}
	h.Set(doc)

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	var spec struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &spec); err != nil {
		panic(err)
	}
	fmt.Println(rec.Code, spec.OpenAPI, doc.Operations(), "operations")
	for _, path := range []string{"/orders", "/orders/{id}"} {
		for _, method := range []string{"get", "post", "delete"} {
			if op, ok := spec.Paths[path][method]; ok {
				fmt.Println(method, path, op["operationId"], "security:", op["security"] != nil)
			}
		}
	}
	// Output:
	// 200 3.1.0 3 operations
	// post /orders createOrder security: false
	// get /orders/{id} getOrdersById security: true
	// delete /orders/{id} deleteOrdersById security: false
}

// OperationID is derived from the method and the path when a Doc has
// none.
func ExampleOperationID() {
	fmt.Println(openapi.OperationID(http.MethodGet, "/projects/:project/tasks"))
	fmt.Println(openapi.OperationID(http.MethodPost, "/user-settings/:id/reset_password"))
	fmt.Println(openapi.OperationID(http.MethodGet, "/"))
	// Output:
	// getProjectsByProjectTasks
	// postUserSettingsByIdResetPassword
	// getRoot
}
