package openapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap/zaptest"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/auth/memory"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/httpx/openapi"
)

// The sample app: projects' tasks, behind the Guard.

type TaskPath struct {
	Project string `param:"project" validate:"required,alphanum,max=20" description:"The project's key."`
}

type createTask struct {
	TaskPath
	Title    string    `json:"title" validate:"required,min=3,max=100"`
	Priority int       `json:"priority" validate:"gte=1,lte=5"`
	Status   string    `json:"status,omitempty" validate:"omitempty,oneof=open done 'on hold'"`
	Assignee string    `json:"assignee,omitempty" validate:"omitempty,email"`
	Labels   []string  `json:"labels,omitempty" validate:"max=5,dive,min=1,max=20"`
	Due      time.Time `json:"due,omitzero"`
}

type listTasks struct {
	TaskPath
	Status string `query:"status" validate:"omitempty,oneof=open done"`
	Limit  int    `query:"limit" validate:"omitempty,min=1,max=100"`
}

type getTask struct {
	TaskPath
	ID string `param:"id" validate:"required,uuid"`
}

type task struct {
	ID       string    `json:"id" format:"uuid"`
	Project  string    `json:"project"`
	Title    string    `json:"title"`
	Priority int       `json:"priority"`
	Status   string    `json:"status" enum:"open,done,on hold"`
	Assignee string    `json:"assignee,omitempty"`
	Labels   []string  `json:"labels"`
	Due      time.Time `json:"due,omitzero"`
	Created  time.Time `json:"created"`
}

type taskList struct {
	Items []task `json:"items"`
}

var errNoTask = errors.New("no such task")

type store struct {
	mu    sync.Mutex
	tasks map[string]task
	n     int
}

func (s *store) create(c echo.Context) error {
	var in createTask
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	t := task{
		ID: "00000000-0000-4000-8000-" + strings.Repeat("0", 11) + string(rune('0'+s.n%10)), Project: in.Project,
		Title: in.Title, Priority: in.Priority, Status: in.Status, Assignee: in.Assignee, Labels: in.Labels,
		Due: in.Due, Created: time.Now().UTC(),
	}
	if t.Status == "" {
		t.Status = "open"
	}
	if t.Labels == nil {
		t.Labels = []string{}
	}
	s.tasks[t.ID] = t
	return c.JSON(http.StatusCreated, t)
}

func (s *store) list(c echo.Context) error {
	var in listTasks
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := taskList{Items: []task{}}
	for _, t := range s.tasks {
		if t.Project == in.Project && (in.Status == "" || in.Status == t.Status) {
			out.Items = append(out.Items, t)
		}
	}
	return c.JSON(http.StatusOK, out)
}

func (s *store) get(c echo.Context) error {
	var in getTask
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[in.ID]
	if !ok || t.Project != in.Project {
		return httpx.NewProblem(http.StatusNotFound, errNoTask.Error())
	}
	return c.JSON(http.StatusOK, t)
}

func (s *store) remove(c echo.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tasks, c.Param("id"))
	return c.NoContent(http.StatusNoContent)
}

// sample is the sample app with its server, document and tokens.
type sample struct {
	server *httpx.Server
	doc    *openapi.Document
	tokens *auth.JWT
	cfg    httpx.Config
	groups []httpx.Group
}

func (s *sample) token(t *testing.T, roles ...string) string {
	t.Helper()
	pair, err := s.tokens.Issue(context.Background(), auth.Principal{Subject: "user-1", Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return pair.AccessToken
}

func newTokens(t testing.TB) *auth.JWT {
	cfg := auth.DefaultConfig()
	cfg.Issuer, cfg.Audience = "tasks", "tasks"
	cfg.Secret = app.NewSecret("a-secret-of-at-least-32-random-bytes")
	tokens, err := auth.New(auth.Params{
		Config:      cfg,
		Revocations: memory.NewRevocations(memory.Config{}),
		Refresh:     memory.NewRefresh(memory.Config{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

func sampleGroups(guard *auth.Guard, s *store) []httpx.Group {
	tasks := guard.SecureGroup(httpx.Group{Prefix: "/projects/:project/tasks", Routes: []httpx.Route{
		{Method: http.MethodPost, Path: "", Handler: s.create, Doc: httpx.Doc{
			Summary: "Create a task", Tags: []string{"tasks"}, OperationID: "createTask",
			Request: createTask{}, Responses: map[int]any{http.StatusCreated: task{}},
		}},
		{Method: http.MethodGet, Path: "", Handler: s.list, Doc: httpx.Doc{
			Summary: "List tasks", Tags: []string{"tasks"},
			Request: listTasks{}, Responses: map[int]any{http.StatusOK: taskList{}},
		}},
		{Method: http.MethodGet, Path: "/:id", Handler: s.get, Doc: httpx.Doc{
			Summary: "Get a task", Tags: []string{"tasks"},
			Request: getTask{}, Responses: map[int]any{http.StatusOK: task{}, http.StatusNotFound: nil},
		}},
	}})
	admin := httpx.Group{Prefix: "/admin", Routes: []httpx.Route{
		guard.Secure(httpx.Route{Method: http.MethodDelete, Path: "/tasks/:id", Handler: s.remove, Doc: httpx.Doc{
			Summary: "Delete a task", Responses: map[int]any{http.StatusNoContent: nil},
		}}, "admin"),
		// No Doc at all: listed with what the path says.
		{Method: http.MethodGet, Path: "/stats/:kind", Handler: func(c echo.Context) error {
			return c.JSON(http.StatusOK, map[string]string{"kind": c.Param("kind")})
		}},
		{Method: http.MethodGet, Path: "/hidden", Handler: func(c echo.Context) error { return c.NoContent(http.StatusNoContent) },
			Doc: httpx.Doc{Hidden: true}},
	}}
	return []httpx.Group{tasks, admin}
}

// newSample builds the sample app on httpx's real server and auth's real
// Guard, without fx.
func newSample(t testing.TB, mutate ...func(*httpx.Config)) *sample {
	t.Helper()
	cfg := httpx.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	for _, m := range mutate {
		m(&cfg)
	}
	log := zaptest.NewLogger(t)
	srv, err := httpx.New(httpx.Params{Config: cfg, Log: log, Info: app.Info{Name: "tasks", Version: "1.2.3"}})
	if err != nil {
		t.Fatal(err)
	}
	tokens := newTokens(t)
	guard, err := auth.NewGuard(auth.GuardParams{Tokens: tokens, HTTP: auth.HTTPConfig{Realm: "tasks"}})
	if err != nil {
		t.Fatal(err)
	}
	groups := sampleGroups(guard, &store{tasks: map[string]task{}})
	if err := httpx.Register(srv.Echo, groups, nil); err != nil {
		t.Fatal(err)
	}
	// A route added to echo directly: listed too.
	srv.Echo.GET("/version", func(c echo.Context) error { return c.String(http.StatusOK, "1.2.3") })

	h := openapi.NewHandler(cfg.OpenAPI, "tasks")
	h.Register(srv.Echo)
	doc, err := openapi.New(openapi.Params{
		Config: cfg.OpenAPI, Info: app.Info{Name: "tasks", Version: "1.2.3"}, Echo: srv.Echo, Groups: groups,
		Docs: openapi.InternalDocs(cfg.Health, ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Set(doc)
	return &sample{server: srv, doc: doc, tokens: tokens, cfg: cfg, groups: groups}
}
