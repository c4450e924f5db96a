// Package openapi generates the OpenAPI 3.1 document of an app's HTTP API
// from the routes it registers, by reflection at start (no code
// generation), and serves it at /openapi.json and /openapi.yaml with a
// docs UI (Swagger UI) embedded in the binary.
//
// Every route the echo server serves is listed. A route registered through
// httpx (a [httpx.Route] or [httpx.Group], given to fx with httpx.AsRoute
// or httpx.AsGroup) may carry an [httpx.Doc]: summary, tags, the request
// type (path, query and header parameters and the JSON body, with its
// `validate:` tags as schema constraints), the response types by status
// and the security it needs. A route without one is still listed with what
// the path says. Every operation documents the application/problem+json
// errors apex can answer with (RFC 9457, with apex's code member and the
// per-field errors of a 422), and the operations with [httpx.Security]
// the bearer token, roles, 401 and 403.
//
// apex's own routes are listed too, under the tag "apex": the health
// endpoints (http.health.live_path, ready_path) and /metrics when served
// on the app's listener. The document's own paths and the UI are not.
//
// [Module] is part of apex.Modules; without fx, [New] builds a [Document]
// from an *echo.Echo and the groups and routes given to httpx.Register,
// and [Handler] serves it.
package openapi

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"
	"github.com/swaggest/jsonschema-go"
	"github.com/swaggest/openapi-go"
	"github.com/swaggest/openapi-go/openapi31"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/httpx"
)

// SecurityScheme is the name of the bearer-token security scheme in the
// document's components.
const SecurityScheme = "bearerAuth"

// InternalTag is the tag of apex's own routes (health, metrics).
const InternalTag = "apex"

// Params are what [New] builds a document from. Echo is required.
type Params struct {
	// Config is http.openapi: title, version, description and servers of
	// the document; the paths it is served at are left out of it.
	Config httpx.OpenAPIConfig
	// Info gives the title (Info.Name) and version when Config has none.
	Info app.Info
	// Echo is the server whose routes are listed: every route it serves,
	// with the GET, PUT, POST, DELETE, OPTIONS, HEAD, PATCH or TRACE
	// method, appears in the document.
	Echo *echo.Echo
	// Groups and Routes are what was given to httpx.Register: their Doc
	// describes the routes.
	Groups []httpx.Group
	// Routes are the routes given to httpx.Register outside groups.
	Routes []httpx.Route
	// Docs describes routes added to Echo directly (not through
	// httpx.Register), keyed by method and echo path: "GET /livez".
	Docs map[string]httpx.Doc
}

// Document is a generated OpenAPI document, encoded once.
type Document struct {
	json, yaml []byte
	operations int
}

// JSON returns the document as JSON. The slice is shared: do not modify it.
func (d *Document) JSON() []byte { return d.json }

// YAML returns the document as YAML. The slice is shared: do not modify it.
func (d *Document) YAML() []byte { return d.yaml }

// Operations is the number of operations (method and path pairs) listed.
func (d *Document) Operations() int { return d.operations }

// route is one operation to document.
type route struct {
	method, path string // echo's
	doc          httpx.Doc
}

func (r route) String() string { return r.method + " " + r.path }

// New generates the document. A Doc whose Request or Responses type cannot
// be reflected (a func or chan field, a `param` field the path does not
// have), two routes with the same OperationID, or Params without Echo is
// an error naming the route.
func New(p Params) (*Document, error) {
	if p.Echo == nil {
		return nil, errors.New("openapi: Params.Echo is nil")
	}
	docs := make(map[string]httpx.Doc, len(p.Docs))
	for k, d := range p.Docs {
		docs[k] = d
	}
	for _, g := range p.Groups {
		for _, r := range g.Routes {
			docs[r.Method+" "+g.Prefix+r.Path] = r.Doc
		}
	}
	for _, r := range p.Routes {
		docs[r.Method+" "+r.Path] = r.Doc
	}
	skip := map[string]bool{}
	for _, path := range []string{p.Config.JSONPath, p.Config.YAMLPath, p.Config.UIPath} {
		if path != "" {
			skip[path] = true
		}
	}
	uiDir := ""
	if p.Config.UIPath != "" {
		uiDir = strings.TrimSuffix(p.Config.UIPath, "/") + "/" // the UI's assets
	}

	var routes []route
	seen := map[string]bool{}
	for _, er := range p.Echo.Routes() {
		if !documentable[er.Method] || skip[er.Path] || (uiDir != "" && strings.HasPrefix(er.Path, uiDir)) || seen[er.Method+" "+er.Path] {
			continue
		}
		seen[er.Method+" "+er.Path] = true
		d := docs[er.Method+" "+er.Path]
		if d.Hidden {
			continue
		}
		routes = append(routes, route{method: er.Method, path: er.Path, doc: d})
	}
	slices.SortFunc(routes, func(a, b route) int {
		return cmp.Or(cmp.Compare(a.path, b.path), cmp.Compare(methodOrder(a.method), methodOrder(b.method)))
	})
	if err := assignOperationIDs(routes); err != nil {
		return nil, err
	}

	g := newGenerator(p)
	for _, r := range routes {
		if err := g.add(r); err != nil {
			return nil, err
		}
	}
	return g.encode(len(routes))
}

// documentable are the methods an OpenAPI path item has.
var documentable = map[string]bool{
	http.MethodGet: true, http.MethodPut: true, http.MethodPost: true, http.MethodDelete: true,
	http.MethodOptions: true, http.MethodHead: true, http.MethodPatch: true, http.MethodTrace: true,
}

func methodOrder(m string) int {
	return slices.Index([]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodTrace}, m)
}

// assignOperationIDs keeps every explicit OperationID, refusing
// duplicates, and derives the others from method and path, numbered when
// two derive the same.
func assignOperationIDs(routes []route) error {
	owner := map[string]route{}
	for _, r := range routes {
		id := r.doc.OperationID
		if id == "" {
			continue
		}
		if prev, dup := owner[id]; dup {
			return fmt.Errorf("openapi: routes %s and %s have the same OperationID %q", prev, r, id)
		}
		owner[id] = r
	}
	for i, r := range routes {
		if r.doc.OperationID != "" {
			continue
		}
		base := OperationID(r.method, r.path)
		id := base
		for n := 2; ; n++ {
			if _, taken := owner[id]; !taken {
				break
			}
			id = base + strconv.Itoa(n)
		}
		owner[id] = r
		routes[i].doc.OperationID = id
	}
	return nil
}

// OperationID is the operation ID derived for a route without one: the
// method in lower case, then each path segment capitalised, a parameter
// as "By" and its name: GET /orders/:id → "getOrdersById", GET / →
// "getRoot".
func OperationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	n := b.Len()
	for _, seg := range strings.Split(path, "/") {
		switch {
		case seg == "":
			continue
		case seg == "*":
			b.WriteString("Any")
		case seg[0] == ':':
			b.WriteString("By")
			writeWords(&b, seg[1:])
		default:
			writeWords(&b, seg)
		}
	}
	if b.Len() == n {
		b.WriteString("Root")
	}
	return b.String()
}

// writeWords writes s's letters and digits, each run capitalised.
func writeWords(b *strings.Builder, s string) {
	up := true
	for _, c := range s {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) {
			up = true
			continue
		}
		if up {
			c = unicode.ToUpper(c)
			up = false
		}
		b.WriteRune(c)
	}
}

// oasPath turns an echo path into an OpenAPI one: :id → {id}; a trailing
// wildcard * becomes the parameter {path}, which the document cannot say
// may hold slashes.
func oasPath(path string) (string, []string) {
	segs := strings.Split(path, "/")
	var params []string
	for i, s := range segs {
		switch {
		case strings.HasPrefix(s, ":"):
			segs[i] = "{" + s[1:] + "}"
			params = append(params, s[1:])
		case s == "*":
			segs[i] = "{path}"
			params = append(params, "path")
		}
	}
	return strings.Join(segs, "/"), params
}

type generator struct {
	p Params
	r *openapi31.Reflector
}

func newGenerator(p Params) *generator {
	r := openapi31.NewReflector()
	r.DefaultOptions = append(r.DefaultOptions, jsonschema.InterceptProp(validateTags), jsonschema.InterceptDefName(shortNames()))
	s := r.SpecEns()
	s.Info.WithTitle(cmp.Or(p.Config.Title, p.Info.Name, "API")).WithVersion(cmp.Or(p.Config.Version, p.Info.Version, "0.0.0"))
	if p.Config.Description != "" {
		s.Info.WithDescription(p.Config.Description)
	}
	for _, u := range p.Config.Servers {
		s.Servers = append(s.Servers, openapi31.Server{URL: u})
	}
	addProblemSchemas(s)
	return &generator{p: p, r: r}
}

// shortNames names a schema component by its Go type's name ("Task"), not
// jsonschema-go's default of package and type ("TasksTask"), unless two
// types share the name or it is one of apex's problem schemas: the later
// type then keeps the default name. Routes are reflected in a fixed order,
// so the names are stable from one start to the next.
func shortNames() func(t reflect.Type, defaultName string) string {
	taken := map[string]reflect.Type{ProblemSchema: nil, ValidationProblemSchema: nil, FieldErrorSchema: nil}
	return func(t reflect.Type, defaultName string) string {
		n := t.Name()
		if n == "" || strings.ContainsAny(n, "[.") {
			return defaultName
		}
		n = strings.ToUpper(n[:1]) + n[1:]
		if prev, ok := taken[n]; ok && prev != t {
			return defaultName
		}
		taken[n] = t
		return n
	}
}

// opContext is openapi31's operation context, which exposes the operation
// being built.
type opContext interface {
	openapi.OperationContext
	Operation() *openapi31.Operation
}

func (g *generator) add(rt route) (err error) {
	defer func() {
		// jsonschema-go panics on some types it cannot reflect.
		if v := recover(); v != nil {
			err = fmt.Errorf("openapi: route %s: cannot reflect its Doc: %v", rt, v)
		}
	}()
	path, pathParams := oasPath(rt.path)
	d := rt.doc
	oc, err := g.r.NewOperationContext(rt.method, path)
	if err != nil {
		return fmt.Errorf("openapi: route %s: %w", rt, err)
	}
	op := oc.(opContext).Operation()
	oc.SetID(d.OperationID)
	if d.Summary != "" {
		oc.SetSummary(d.Summary)
	}
	if d.Description != "" {
		oc.SetDescription(d.Description)
	}
	oc.SetTags(d.Tags...)
	if d.Deprecated {
		oc.SetIsDeprecated(true)
	}

	// Path parameters the request type does not declare are strings.
	declared := map[string]bool{}
	if d.Request != nil {
		if reflect.TypeOf(d.Request).Kind() == reflect.Pointer && reflect.ValueOf(d.Request).IsNil() {
			d.Request = reflect.New(reflect.TypeOf(d.Request).Elem()).Interface()
		}
		mapping := jsonschema.MakePropertyNameMapping(d.Request, "param")
		for _, name := range mapping {
			declared[name] = true
		}
		oc.AddReqStructure(d.Request, func(cu *openapi.ContentUnit) { cu.SetFieldMapping(openapi.InPath, mapping) })
	}
	for _, name := range pathParams {
		if !declared[name] {
			op.Parameters = append(op.Parameters, openapi31.ParameterOrReference{Parameter: &openapi31.Parameter{
				Name: name, In: openapi31.ParameterInPath, Required: ptr(true),
				Schema: map[string]any{"type": "string"},
			}})
		}
	}

	problems := map[int]bool{}
	if len(d.Responses) == 0 {
		oc.AddRespStructure(nil, openapi.WithHTTPStatus(2), func(cu *openapi.ContentUnit) {
			cu.Description = "Success; the response is not documented."
		})
	}
	for _, status := range slices.Sorted(mapsKeys(d.Responses)) {
		v := d.Responses[status]
		if status < 100 || status > 599 {
			return fmt.Errorf("openapi: route %s: response status %d is not an HTTP status", rt, status)
		}
		switch v.(type) {
		case nil:
			if status >= 400 {
				problems[status] = true
				continue
			}
			oc.AddRespStructure(nil, openapi.WithHTTPStatus(status))
		case string:
			oc.AddRespStructure(nil, openapi.WithHTTPStatus(status), openapi.WithContentType("text/plain"))
		case []byte:
			oc.AddRespStructure(nil, openapi.WithHTTPStatus(status), openapi.WithContentType("application/octet-stream"),
				func(cu *openapi.ContentUnit) { cu.Format = "binary" })
		default:
			oc.AddRespStructure(v, openapi.WithHTTPStatus(status))
		}
	}

	if err := g.r.AddOperation(oc); err != nil {
		return fmt.Errorf("openapi: route %s: %w", rt, err)
	}
	item := g.r.Spec.Paths.MapOfPathItemValues[path]
	stored, err := item.Operation(strings.ToLower(rt.method))
	if err != nil || stored == nil {
		return fmt.Errorf("openapi: route %s: operation not stored: %v", rt, err)
	}
	if d.Request != nil {
		requireParams(stored, d.Request)
	}
	addProblems(g.r.Spec, stored, rt.method, d, problems)
	if d.Security != nil {
		addSecurity(g.r.Spec, stored, d.Security)
	}
	return nil
}

func mapsKeys(m map[int]any) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// addSecurity states the bearer requirement with the roles (OpenAPI 3.1
// lets a non-OAuth requirement list role names) and, in the description
// and x-apex-permissions, the permissions.
func addSecurity(s *openapi31.Spec, op *openapi31.Operation, sec *httpx.Security) {
	if _, ok := s.ComponentsEns().SecuritySchemes[SecurityScheme]; !ok {
		s.SetHTTPBearerTokenSecurity(SecurityScheme, "JWT",
			"An access token from the auth module, sent as `Authorization: Bearer <token>`.")
	}
	roles := slices.Clone(sec.Roles)
	if roles == nil {
		roles = []string{}
	}
	op.Security = []map[string][]string{{SecurityScheme: roles}}
	var note []string
	switch len(sec.Roles) {
	case 0:
		note = append(note, "Requires a valid bearer token.")
	case 1:
		note = append(note, "Requires a bearer token with the role `"+sec.Roles[0]+"`.")
	default:
		note = append(note, "Requires a bearer token with one of the roles `"+strings.Join(sec.Roles, "`, `")+"`.")
	}
	if len(sec.Permissions) > 0 {
		note = append(note, "Requires the permissions `"+strings.Join(sec.Permissions, "`, `")+"`.")
		if op.MapOfAnything == nil {
			op.MapOfAnything = map[string]any{}
		}
		op.MapOfAnything["x-apex-permissions"] = slices.Clone(sec.Permissions)
	}
	text := strings.Join(note, " ")
	if op.Description != nil && *op.Description != "" {
		text = *op.Description + "\n\n" + text
	}
	op.Description = &text
}

// requireParams marks query and header parameters whose field has a
// `validate:"required"` rule as required.
func requireParams(op *openapi31.Operation, req any) {
	t := reflect.TypeOf(req)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	required := map[string]bool{} // "in name"
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if f.Anonymous && ft.Kind() == reflect.Struct {
				walk(ft)
				continue
			}
			if !hasRule(f.Tag.Get("validate"), "required") {
				continue
			}
			for _, in := range []string{"query", "header"} {
				if name, ok := f.Tag.Lookup(in); ok {
					required[in+" "+strings.Split(name, ",")[0]] = true
				}
			}
		}
	}
	walk(t)
	for _, p := range op.Parameters {
		if p.Parameter != nil && required[string(p.Parameter.In)+" "+p.Parameter.Name] {
			p.Parameter.Required = ptr(true)
		}
	}
}

func (g *generator) encode(n int) (*Document, error) {
	s := g.r.Spec
	tags := map[string]bool{}
	if s.Paths != nil {
		for _, item := range s.Paths.MapOfPathItemValues {
			for _, op := range []*openapi31.Operation{item.Get, item.Put, item.Post, item.Delete, item.Options, item.Head, item.Patch, item.Trace} {
				if op != nil {
					for _, t := range op.Tags {
						tags[t] = true
					}
				}
			}
		}
	}
	for _, t := range slices.Sorted(func(yield func(string) bool) {
		for t := range tags {
			if !yield(t) {
				return
			}
		}
	}) {
		tag := openapi31.Tag{Name: t}
		if t == InternalTag {
			tag.WithDescription("apex's own endpoints: health and metrics.")
		}
		s.Tags = append(s.Tags, tag)
	}
	j, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("openapi: encode JSON: %w", err)
	}
	y, err := s.MarshalYAML()
	if err != nil {
		return nil, fmt.Errorf("openapi: encode YAML: %w", err)
	}
	return &Document{json: j, yaml: y, operations: n}, nil
}
