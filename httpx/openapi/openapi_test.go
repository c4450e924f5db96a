package openapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/httpx/openapi"
)

// load parses and validates a document with kin-openapi.
func load(t *testing.T, data []byte) *openapi3.T {
	t.Helper()
	l := openapi3.NewLoader()
	doc, err := l.LoadFromData(data)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, data)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document does not validate: %v\n%s", err, data)
	}
	return doc
}

func TestDocumentValidates(t *testing.T) {
	t.Parallel()
	s := newSample(t)
	doc := load(t, s.doc.JSON())
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if doc.Info.Title != "tasks" || doc.Info.Version != "1.2.3" {
		t.Errorf("info = %q %q", doc.Info.Title, doc.Info.Version)
	}
	fromYAML := load(t, s.doc.YAML())
	a, _ := json.Marshal(doc)
	b, _ := json.Marshal(fromYAML)
	if string(a) != string(b) {
		t.Errorf("the YAML document differs from the JSON one")
	}
}

// Every route the server serves is in the document, but the document's
// own, the UI's and the hidden one.
func TestEveryRouteListed(t *testing.T) {
	t.Parallel()
	s := newSample(t)
	doc := load(t, s.doc.JSON())
	own := []string{s.cfg.OpenAPI.JSONPath, s.cfg.OpenAPI.YAMLPath}
	n := 0
	for _, r := range s.server.Echo.Routes() {
		if r.Method == "echo_route_not_found" || slices.Contains(own, r.Path) ||
			strings.HasPrefix(r.Path, s.cfg.OpenAPI.UIPath) || r.Path == "/admin/hidden" {
			continue
		}
		n++
		path := r.Path
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("%s %s is not in the document", r.Method, path)
		}
	}
	if n < 7 || s.doc.Operations() != n {
		t.Errorf("%d routes served, %d operations documented", n, s.doc.Operations())
	}
	if doc.Paths.Find("/admin/hidden") != nil {
		t.Error("a Hidden route is listed")
	}
	if doc.Paths.Find("/openapi.json") != nil || doc.Paths.Find("/docs") != nil {
		t.Error("the document lists its own routes")
	}
}

func TestOperations(t *testing.T) {
	t.Parallel()
	s := newSample(t)
	doc := load(t, s.doc.JSON())

	create := doc.Paths.Find("/projects/{project}/tasks").Post
	if create.OperationID != "createTask" || create.Summary != "Create a task" || !slices.Equal(create.Tags, []string{"tasks"}) {
		t.Errorf("create: %q %q %v", create.OperationID, create.Summary, create.Tags)
	}
	if p := create.Parameters.GetByInAndName("path", "project"); p == nil || !p.Required {
		t.Error("create: no required path parameter project")
	} else if s := p.Schema.Value; s.Pattern != "^[a-zA-Z0-9]+$" || s.MaxLength == nil || *s.MaxLength != 20 {
		t.Errorf("project's schema: pattern %q, maxLength %v", s.Pattern, s.MaxLength)
	}
	body := create.RequestBody.Value.Content.Get("application/json").Schema.Value
	if !slices.Contains(body.Required, "title") || slices.Contains(body.Required, "status") {
		t.Errorf("create body required = %v", body.Required)
	}
	title := body.Properties["title"].Value
	if title.MinLength != 3 || title.MaxLength == nil || *title.MaxLength != 100 {
		t.Errorf("title: minLength %d maxLength %v", title.MinLength, title.MaxLength)
	}
	prio := body.Properties["priority"].Value
	if prio.Min == nil || *prio.Min != 1 || prio.Max == nil || *prio.Max != 5 {
		t.Errorf("priority: %v..%v", prio.Min, prio.Max)
	}
	// omitempty: the zero value, or one of the values.
	status := body.Properties["status"].Value
	if len(status.AnyOf) != 2 || !slices.Equal(status.AnyOf[1].Value.Enum, []any{"open", "done", "on hold"}) {
		raw, _ := json.Marshal(status)
		t.Errorf("status = %s", raw)
	}
	assignee := body.Properties["assignee"].Value
	if len(assignee.AnyOf) != 2 || assignee.AnyOf[1].Value.Format != "email" {
		raw, _ := json.Marshal(assignee)
		t.Errorf("assignee = %s", raw)
	}
	labels := body.Properties["labels"].Value
	if labels.MaxItems == nil || *labels.MaxItems != 5 || labels.Items.Value.MinLength != 1 {
		raw, _ := json.Marshal(labels)
		t.Errorf("labels = %s", raw)
	}
	wantStatuses(t, "create", create, "201", "400", "401", "403", "413", "422", "500", "503")
	if create.Responses.Default() == nil {
		t.Error("create: no default (problem) response")
	}
	if ct := create.Responses.Status(422).Value.Content.Get("application/problem+json"); ct == nil ||
		ct.Schema.Ref != "#/components/schemas/ValidationProblem" {
		t.Error("create: 422 is not a ValidationProblem")
	}
	if sec := *create.Security; len(sec) != 1 || sec[0][openapi.SecurityScheme] == nil {
		t.Errorf("create: security = %v", sec)
	}

	list := doc.Paths.Find("/projects/{project}/tasks").Get
	if list.OperationID != "getProjectsByProjectTasks" {
		t.Errorf("derived operation ID %q", list.OperationID)
	}
	if p := list.Parameters.GetByInAndName("query", "limit"); p == nil || p.Required {
		t.Error("list: limit is not an optional query parameter")
	}
	if list.RequestBody != nil {
		t.Error("a GET has a request body")
	}

	get := doc.Paths.Find("/projects/{project}/tasks/{id}").Get
	if p := get.Parameters.GetByInAndName("path", "id"); p == nil || p.Schema.Value.Format != "uuid" {
		t.Error("get: id is not a uuid path parameter")
	}
	wantStatuses(t, "get", get, "200", "400", "401", "403", "404", "422", "500", "503")

	del := doc.Paths.Find("/admin/tasks/{id}").Delete
	if sec := *del.Security; len(sec) != 1 || !slices.Equal(sec[0][openapi.SecurityScheme], []string{"admin"}) {
		t.Errorf("delete: security = %v", sec)
	}
	if !strings.Contains(del.Description, "`admin`") {
		t.Errorf("delete: description %q does not name the role", del.Description)
	}
	if r := del.Responses.Status(204); r == nil || len(r.Value.Content) != 0 {
		t.Error("delete: no 204 without a body")
	}

	// No Doc: the path parameter, a 2XX and the problems.
	stats := doc.Paths.Find("/admin/stats/{kind}").Get
	if p := stats.Parameters.GetByInAndName("path", "kind"); p == nil || !p.Required {
		t.Error("stats: no path parameter kind")
	}
	if stats.OperationID != "getAdminStatsByKind" || stats.Security != nil {
		t.Errorf("stats: %q %v", stats.OperationID, stats.Security)
	}
	wantStatuses(t, "stats", stats, "2XX", "500", "503")

	version := doc.Paths.Find("/version").Get
	if version == nil {
		t.Fatal("a route added to echo directly is not listed")
	}
	live := doc.Paths.Find("/livez").Get
	if live.OperationID != "apexLive" || !slices.Equal(live.Tags, []string{openapi.InternalTag}) {
		t.Errorf("livez: %q %v", live.OperationID, live.Tags)
	}
	ready := doc.Paths.Find("/readyz").Get
	if ct := ready.Responses.Status(503).Value.Content.Get("application/json"); ct == nil {
		t.Error("readyz: the 503 is not its JSON report")
	}
	if ss := doc.Components.SecuritySchemes[openapi.SecurityScheme]; ss == nil || ss.Value.Scheme != "bearer" {
		t.Error("no bearer security scheme")
	}
}

func wantStatuses(t *testing.T, name string, op *openapi3.Operation, want ...string) {
	t.Helper()
	var got []string
	for k := range op.Responses.Map() {
		if k != "default" {
			got = append(got, k)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: responses %v, want %v", name, got, want)
	}
}

func TestProblemSchema(t *testing.T) {
	t.Parallel()
	s := newSample(t)
	doc := load(t, s.doc.JSON())
	p := doc.Components.Schemas[openapi.ProblemSchema].Value
	for _, f := range []string{"type", "title", "status", "detail", "instance", "request_id", "code", "errors"} {
		if p.Properties[f] == nil {
			t.Errorf("Problem has no %s", f)
		}
	}
	if !slices.Equal(p.Required, []string{"type", "title", "status"}) {
		t.Errorf("Problem requires %v", p.Required)
	}
	if doc.Components.Schemas[openapi.FieldErrorSchema] == nil || doc.Components.Schemas[openapi.ValidationProblemSchema] == nil {
		t.Error("no FieldError or ValidationProblem schema")
	}
}

// Components are named by the Go type; a second type of the same name,
// or one named like apex's problem schemas, keeps the package-qualified
// name.
func TestSchemaNames(t *testing.T) {
	t.Parallel()
	type task struct { // another type named task, local to this test
		Other string `json:"other"`
	}
	type Problem struct {
		Mine bool `json:"mine"`
	}
	e := echo.New()
	routes := []httpx.Route{
		{Method: http.MethodGet, Path: "/a", Handler: func(echo.Context) error { return nil }, Doc: httpx.Doc{Responses: map[int]any{200: taskList{}}}},
		{Method: http.MethodGet, Path: "/b", Handler: func(echo.Context) error { return nil }, Doc: httpx.Doc{Responses: map[int]any{200: task{}}}},
		{Method: http.MethodGet, Path: "/c", Handler: func(echo.Context) error { return nil }, Doc: httpx.Doc{Responses: map[int]any{200: Problem{}}}},
	}
	if err := httpx.Register(e, nil, routes); err != nil {
		t.Fatal(err)
	}
	d, err := openapi.New(openapi.Params{Echo: e, Routes: routes, Config: httpx.DefaultConfig().OpenAPI})
	if err != nil {
		t.Fatal(err)
	}
	doc := load(t, d.JSON())
	var names []string
	for n := range doc.Components.Schemas {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"FieldError", "OpenapiTestProblem", "OpenapiTestTask", "Problem", "Task", "TaskList", "ValidationProblem"}
	if !slices.Equal(names, want) {
		t.Errorf("schemas %v, want %v", names, want)
	}
	if ref := doc.Paths.Find("/b").Get.Responses.Status(200).Value.Content.Get("application/json").Schema.Ref; ref != "#/components/schemas/OpenapiTestTask" {
		t.Errorf("/b refers to %s", ref)
	}
}

// A request or response that is not a struct: a JSON array, a map, a
// pointer.
func TestNonStructBodies(t *testing.T) {
	t.Parallel()
	e := echo.New()
	nop := func(echo.Context) error { return nil }
	routes := []httpx.Route{
		{Method: http.MethodPost, Path: "/bulk", Handler: nop, Doc: httpx.Doc{
			Request: []createTask{}, Responses: map[int]any{200: map[string]int{}, 201: &task{}}}},
		{Method: http.MethodPut, Path: "/ptr/:project", Handler: nop, Doc: httpx.Doc{Request: (*createTask)(nil)}},
	}
	if err := httpx.Register(e, nil, routes); err != nil {
		t.Fatal(err)
	}
	d, err := openapi.New(openapi.Params{Echo: e, Routes: routes, Config: httpx.DefaultConfig().OpenAPI})
	if err != nil {
		t.Fatal(err)
	}
	doc := load(t, d.JSON())
	bulk := doc.Paths.Find("/bulk").Post
	if s := bulk.RequestBody.Value.Content.Get("application/json").Schema.Value; !s.Type.Is("array") || s.Items == nil {
		t.Errorf("bulk body: %v", s.Type)
	}
	if s := bulk.Responses.Status(200).Value.Content.Get("application/json").Schema.Value; !s.Type.Is("object") {
		t.Errorf("bulk 200: %v", s.Type)
	}
	ptr := doc.Paths.Find("/ptr/{project}").Put
	if ptr.RequestBody == nil || ptr.Parameters.GetByInAndName("path", "project") == nil {
		t.Error("a nil *createTask is not documented as createTask")
	}
}
