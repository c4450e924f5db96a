package httpx

import "github.com/apexgo/apex/app"

// Doc describes a route in the OpenAPI document that the openapi module
// (package httpx/openapi) generates at start. Every field is optional: a
// route with the zero Doc is still listed, with its path parameters (from
// the echo path, ":id" → "{id}"), a derived operation ID and the problem
// responses every route can give.
//
//	httpx.Route{Method: http.MethodPost, Path: "/orders", Handler: create,
//		Doc: httpx.Doc{
//			Summary:   "Create an order",
//			Tags:      []string{"orders"},
//			Request:   CreateOrder{},
//			Responses: map[int]any{http.StatusCreated: Order{}},
//		}}
type Doc struct {
	// Summary is a one-line description of the operation.
	Summary string
	// Description is a longer description; CommonMark is allowed.
	Description string
	// Tags group operations in the document and its UI.
	Tags []string
	// OperationID names the operation for client generators; it must be
	// unique in the document. Default: derived from the method and the
	// path (GET /orders/:id → "getOrdersById").
	OperationID string
	// Deprecated marks the operation as deprecated.
	Deprecated bool
	// Hidden leaves the route out of the document.
	Hidden bool
	// Request is a value of the type the handler binds the request into
	// (with [Bind] or echo's Bind): fields tagged `param:"id"` are path
	// parameters, `query:"q"` query parameters, `header:"X-Tenant"`
	// header parameters, and `json:"…"` fields make the JSON body (on
	// methods that have a body). `validate:` tags become schema
	// constraints: required, min, max, len, gt, gte, lt, lte, eq, oneof
	// (an enum), formats (email, url, uri, uuid, datetime, ipv4, ipv6,
	// hostname), patterns (alphanum, numeric, startswith, ...) and dive;
	// docs/openapi.md lists them. Nil: no parameters beyond the path's, no
	// body.
	Request any
	// Responses maps a status to a value of its body type; a nil value is
	// a response without a body, a string value a text/plain body, a
	// []byte value an application/octet-stream one, anything else JSON.
	// Default (nil map): a 2XX without a documented body. Error statuses
	// need not be listed: every operation documents, as
	// application/problem+json, the problems apex itself answers with —
	// 500 and 503 always, 400 and 422 when Request is set (and 413 on
	// POST, PUT and PATCH), 401 and 403 when Security is set — and any
	// other error as the default response. A status listed here with a
	// nil value, 400 or above, is documented as a problem too.
	Responses map[int]any
	// Security, when set, documents that the route needs a bearer token:
	// a bearer security requirement, with the roles, and 401 and 403
	// responses. auth's Guard.Secure sets it along with the middleware
	// that enforces it.
	Security *Security
}

// Security is the access a route requires, as documented in the OpenAPI
// document: a bearer token and, when set, roles and permissions. It
// documents the requirement; the auth module's middleware enforces it.
type Security struct {
	// Roles lets in a token holding any one of them; none: any valid
	// token.
	Roles []string
	// Permissions are required, each through one of the token's roles.
	Permissions []string
}

// The defaults of http.openapi, each written once.
const (
	DefaultOpenAPIJSONPath = "/openapi.json"
	DefaultOpenAPIYAMLPath = "/openapi.yaml"
	DefaultOpenAPIUIPath   = "/docs"
)

// OpenAPIConfig is http.openapi (APP_HTTP__OPENAPI__*): the OpenAPI 3.1
// document of the app's routes, generated at start by the openapi module
// (package httpx/openapi), and a docs UI embedded in the binary.
type OpenAPIConfig struct {
	// Enabled serves the document and the UI. Default true; off, their
	// paths answer 404 and nothing is generated.
	Enabled bool `koanf:"enabled"`
	// JSONPath serves the document as JSON. Default
	// [DefaultOpenAPIJSONPath] (/openapi.json).
	JSONPath string `koanf:"json_path" validate:"omitempty,startswith=/"`
	// YAMLPath serves the document as YAML; "" serves no YAML. Default
	// [DefaultOpenAPIYAMLPath] (/openapi.yaml).
	YAMLPath string `koanf:"yaml_path" validate:"omitempty,startswith=/"`
	// UIPath serves the docs UI (Swagger UI, embedded: no CDN), its
	// assets under UIPath/; "" serves no UI. Only the UI page gets a
	// Content-Security-Policy that lets its own scripts run; every other
	// response keeps http.security_headers.content_security_policy.
	// Default [DefaultOpenAPIUIPath] (/docs).
	UIPath string `koanf:"ui_path" validate:"omitempty,startswith=/"`
	// Title is the document's info.title. Default "": the service name
	// (service.name).
	Title string `koanf:"title"`
	// Version is the document's info.version, the API's version. Default
	// "": the build's version (service.version or the module version).
	Version string `koanf:"version"`
	// Description is the document's info.description (CommonMark).
	// Default "".
	Description string `koanf:"description"`
	// Servers are the base URLs listed in the document ("https://api.example.com").
	// Default none: clients call the host that served the document.
	Servers []string `koanf:"servers" validate:"dive,url"`
}

// Validate implements app.Validator: json_path is required when enabled,
// and the three paths must differ.
func (c OpenAPIConfig) Validate() []app.Problem {
	var ps []app.Problem
	if c.Enabled && c.JSONPath == "" {
		ps = append(ps, app.Problem{Key: "json_path", Message: "is required while enabled is true"})
	}
	if c.YAMLPath != "" && c.YAMLPath == c.JSONPath {
		ps = append(ps, app.Problem{Key: "yaml_path", Message: "must differ from json_path"})
	}
	if c.UIPath != "" && (c.UIPath == c.JSONPath || c.UIPath == c.YAMLPath) {
		ps = append(ps, app.Problem{Key: "ui_path", Message: "must differ from json_path and yaml_path"})
	}
	return ps
}
