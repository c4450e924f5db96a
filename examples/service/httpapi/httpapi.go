// Package httpapi is the tracker's HTTP API: accounts under /auth,
// projects, tasks and reports under /projects (members of the caller's
// tenant), the replay of a failed report job and the usage snapshots
// (owners). Job status is apex's GET /jobs/{id}; pushes arrive on
// /connection/websocket. The tenant is the access token's: a user never
// names another tenant's data.
package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/cache"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/examples/service/app"
	"github.com/apexgo/apex/examples/service/core"
	"github.com/apexgo/apex/examples/service/domain"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/queue"

	apexapp "github.com/apexgo/apex/app"
)

// Module serves the API; it needs core.Module and apex's modules.
var Module = fx.Module("tracker.http",
	fx.Provide(newHandlers, httpx.AsGroup(authRoutes), httpx.AsGroup(projectRoutes), httpx.AsGroup(adminRoutes),
		httpx.AsMiddleware(optionalAuth)),
	httpx.MapError(domain.ErrNotFound, http.StatusNotFound),
	httpx.MapError(domain.ErrConflict, http.StatusConflict),
	httpx.MapError(domain.ErrInvalid, http.StatusUnprocessableEntity),
	httpx.MapError(app.ErrBadCredentials, http.StatusUnauthorized),
)

// Handlers serves the routes.
type Handlers struct {
	svc    *app.Service
	tokens auth.Tokens
	jobs   *queue.Client
}

func newHandlers(svc *app.Service, tokens auth.Tokens, jobs *queue.Client) *Handlers {
	return &Handlers{svc: svc, tokens: tokens, jobs: jobs}
}

// optionalAuth verifies a token on every request that carries one:
// apex's GET /jobs/{id} has no authentication of its own, and shows a
// caller only the jobs enqueued under its subject, so the subject must be
// known there too.
func optionalAuth(g *auth.Guard) httpx.Middleware {
	return httpx.Middleware{Name: "tracker.optional_auth", Func: g.Optional()}
}

type actorKey struct{}

// emailClaim carries the user's email in its access tokens.
const emailClaim = "email"

// withActor runs after the Guard's authentication (Guard.Secure or
// SecureGroup): it puts the caller in the request's context as an
// app.Actor, and its tenant (app.WithTenant) so that jobs it enqueues
// carry the tenant.
func withActor(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, ok := auth.FromContext(c.Request().Context())
		if !ok || id.Tenant == "" {
			return httpx.NewProblem(http.StatusForbidden, "the access token names no tenant")
		}
		email, _ := id.Claims[emailClaim].(string)
		a := app.Actor{UserID: id.Subject, Tenant: id.Tenant, Email: email, Roles: id.Roles}
		ctx := context.WithValue(apexapp.WithTenant(c.Request().Context(), id.Tenant), actorKey{}, a)
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

func actor(c echo.Context) app.Actor {
	a, _ := c.Request().Context().Value(actorKey{}).(app.Actor)
	return a
}

// --- accounts

// RegisterRequest is the body of POST /auth/register.
type RegisterRequest struct {
	Tenant   string `json:"tenant" validate:"required,max=63"`
	Email    string `json:"email" validate:"required,email,max=254"`
	Password string `json:"password" validate:"required,min=10,max=256"`
}

// LoginRequest is the body of POST /auth/login.
type LoginRequest struct {
	Tenant   string `json:"tenant" validate:"required,max=63"`
	Email    string `json:"email" validate:"required,max=254"`
	Password string `json:"password" validate:"required,max=1024"`
}

// RefreshRequest is the body of POST /auth/refresh.
type RefreshRequest struct {
	RefreshToken string `json:"refresh_token" validate:"required,max=128"`
}

// UserView is an account as the API shows it.
type UserView struct {
	ID     string   `json:"id"`
	Tenant string   `json:"tenant"`
	Email  string   `json:"email"`
	Roles  []string `json:"roles"`
}

var errTenantID = httpx.NewProblem(http.StatusUnprocessableEntity, "tenant: 1-63 of A-Z a-z 0-9 _ -, starting with a letter or digit")

var accounts = []string{"accounts"}

func authRoutes(h *Handlers) httpx.Group {
	return httpx.Group{Prefix: "/auth", Routes: []httpx.Route{
		{Method: http.MethodPost, Path: "/register", Handler: h.register, Doc: httpx.Doc{
			Summary: "Register an account", Tags: accounts, Request: RegisterRequest{},
			Description: "The first account of a tenant owns it (roles owner and member); later ones are members.",
			Responses:   map[int]any{http.StatusCreated: UserView{}, http.StatusConflict: nil},
		}},
		{Method: http.MethodPost, Path: "/login", Handler: h.login, Doc: httpx.Doc{
			Summary: "Log in", Tags: accounts, Request: LoginRequest{},
			Description: "An access token carrying the tenant and the roles, and a refresh token.",
			Responses:   map[int]any{http.StatusOK: auth.Pair{}, http.StatusUnauthorized: nil},
		}},
		{Method: http.MethodPost, Path: "/refresh", Handler: h.refresh, Doc: httpx.Doc{
			Summary: "Exchange a refresh token for a new pair", Tags: accounts, Request: RefreshRequest{},
			Responses: map[int]any{http.StatusOK: auth.Pair{}, http.StatusUnauthorized: nil},
		}},
	}}
}

func (h *Handlers) register(c echo.Context) error {
	var in RegisterRequest
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	if !data.ValidTenantID(in.Tenant) {
		return errTenantID
	}
	u, err := h.svc.Register(c.Request().Context(), app.RegisterParams{Tenant: in.Tenant, Email: in.Email, Password: in.Password})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, UserView{ID: u.ID, Tenant: u.Tenant, Email: u.Email, Roles: u.Roles})
}

func (h *Handlers) login(c echo.Context) error {
	var in LoginRequest
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	if !data.ValidTenantID(in.Tenant) {
		return errTenantID
	}
	ctx := c.Request().Context()
	u, err := h.svc.Login(ctx, in.Tenant, in.Email, in.Password)
	if err != nil {
		return err
	}
	pair, err := h.tokens.Issue(ctx, auth.Principal{Subject: u.ID, Roles: u.Roles, Tenant: u.Tenant, Claims: map[string]any{emailClaim: u.Email}})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pair)
}

func (h *Handlers) refresh(c echo.Context) error {
	var in RefreshRequest
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	pair, err := h.tokens.Refresh(c.Request().Context(), in.RefreshToken)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pair)
}

// --- projects, tasks, reports

// ProjectRequest is the body of POST /projects.
type ProjectRequest struct {
	Name string `json:"name" validate:"required,max=200"`
}

// ProjectCreated is the answer of POST /projects: the project and the
// job, committed with it, that mails its owner.
type ProjectCreated struct {
	Project  domain.Project `json:"project"`
	NotifyID string         `json:"notify_job"`
}

// TaskRequest is the body of POST /projects/{id}/tasks.
type TaskRequest struct {
	ProjectID string `param:"id" json:"-"`
	Title     string `json:"title" validate:"required,max=500"`
}

// ProjectPath names a project in the path.
type ProjectPath struct {
	ID string `param:"id"`
}

// JobPath names a job in the path.
type JobPath struct {
	ID string `param:"id"`
}

// JobAccepted is the answer of a request that started a job: follow it
// at GET /jobs/{id}, or wait for its push on the user channel.
type JobAccepted struct {
	JobID string `json:"job_id"`
}

func projectRoutes(h *Handlers, g *auth.Guard, limits *cache.RateLimits, cfg core.Config) (httpx.Group, error) {
	// Reports cost: each user may ask for ReportsPerHour an hour, counted
	// in the shared limiter (Redis in a cluster), whichever instance
	// answers.
	reports, err := limits.Policies(cache.Policy{Name: "reports", Limit: cache.PerHour(cfg.ReportsPerHour),
		Key: cache.BySubject(func(c echo.Context) string { return actor(c).UserID })})
	if err != nil {
		return httpx.Group{}, err
	}
	projects := []string{"projects"}
	notFound := map[int]any{http.StatusNotFound: nil}
	with := func(m map[int]any, status int, body any) map[int]any {
		out := map[int]any{status: body}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	return g.SecureGroup(httpx.Group{Prefix: "/projects", Middleware: []echo.MiddlewareFunc{withActor}, Routes: []httpx.Route{
		{Method: http.MethodGet, Path: "", Handler: h.listProjects, Doc: httpx.Doc{
			Summary: "List the tenant's projects", Tags: projects,
			Responses: map[int]any{http.StatusOK: []domain.Project{}},
		}},
		{Method: http.MethodPost, Path: "", Handler: h.createProject, Doc: httpx.Doc{
			Summary: "Create a project", Tags: projects, Request: ProjectRequest{},
			Description: "The project and the job that mails its owner are committed together (the outbox).",
			Responses:   map[int]any{http.StatusCreated: ProjectCreated{}, http.StatusConflict: nil},
		}},
		{Method: http.MethodGet, Path: "/:id", Handler: h.getProject, Doc: httpx.Doc{
			Summary: "Get a project", Tags: projects, Request: ProjectPath{},
			Responses: with(notFound, http.StatusOK, domain.Project{}),
		}},
		{Method: http.MethodGet, Path: "/:id/tasks", Handler: h.listTasks, Doc: httpx.Doc{
			Summary: "List a project's tasks", Tags: projects, Request: ProjectPath{},
			Responses: with(notFound, http.StatusOK, []domain.Task{}),
		}},
		{Method: http.MethodPost, Path: "/:id/tasks", Handler: h.addTask, Doc: httpx.Doc{
			Summary: "Add a task", Tags: projects, Request: TaskRequest{},
			Description: "Subscribers of the project's room (project:<tenant>.<id>) receive a task.added event.",
			Responses:   with(notFound, http.StatusCreated, domain.Task{}),
		}},
		{Method: http.MethodPost, Path: "/:id/reports", Handler: h.requestReport, Middleware: []echo.MiddlewareFunc{reports}, Doc: httpx.Doc{
			Summary: "Request a project's report", Tags: projects, Request: ProjectPath{},
			Description: "Built in the background and mailed; follow it at GET /jobs/{id} or on the user channel. " +
				"Rate-limited per user (tracker.reports_per_hour).",
			Responses: with(map[int]any{http.StatusNotFound: nil, http.StatusTooManyRequests: nil}, http.StatusAccepted, JobAccepted{}),
		}},
	}}), nil
}

func (h *Handlers) listProjects(c echo.Context) error {
	ps, err := h.svc.Projects(c.Request().Context(), actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ps)
}

func (h *Handlers) createProject(c echo.Context) error {
	var in ProjectRequest
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	p, jobID, err := h.svc.CreateProject(c.Request().Context(), actor(c), in.Name)
	if err != nil && p.ID == "" {
		return err
	}
	return c.JSON(http.StatusCreated, ProjectCreated{Project: p, NotifyID: jobID})
}

func (h *Handlers) getProject(c echo.Context) error {
	p, err := h.svc.Project(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

func (h *Handlers) listTasks(c echo.Context) error {
	ts, err := h.svc.Tasks(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ts)
}

func (h *Handlers) addTask(c echo.Context) error {
	var in TaskRequest
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	t, err := h.svc.AddTask(c.Request().Context(), actor(c), c.Param("id"), in.Title)
	if err != nil && t.ID == "" {
		return err
	}
	return c.JSON(http.StatusCreated, t)
}

func (h *Handlers) requestReport(c echo.Context) error {
	id, err := h.svc.RequestReport(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, JobAccepted{JobID: id})
}

// --- owners

func adminRoutes(h *Handlers, g *auth.Guard) httpx.Group {
	owners := []string{"owners"}
	actor := []echo.MiddlewareFunc{withActor}
	return httpx.Group{Routes: []httpx.Route{
		g.Secure(httpx.Route{Method: http.MethodPost, Path: "/jobs/:id/replay", Handler: h.replay, Middleware: actor, Doc: httpx.Doc{
			Summary: "Replay a failed job of the tenant", Tags: owners, Request: JobPath{},
			Responses: map[int]any{http.StatusAccepted: JobAccepted{}, http.StatusNotFound: nil, http.StatusConflict: nil},
		}}, domain.RoleOwner),
		g.Secure(httpx.Route{Method: http.MethodGet, Path: "/snapshots", Handler: h.snapshots, Middleware: actor, Doc: httpx.Doc{
			Summary: "Usage snapshots", Tags: owners,
			Description: "The service's size at each tick of the snapshot schedule, once per tick.",
			Responses:   map[int]any{http.StatusOK: []domain.Snapshot{}},
		}}, domain.RoleOwner),
	}}
}

var replayable = []queue.State{queue.Failed, queue.Dead}

// replay puts a failed or dead job of the caller's tenant back in its
// queue (its attempts start again). A job of another tenant is the same
// 404 as an unknown one; a job that is not failed or dead is a 409.
func (h *Handlers) replay(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	st, err := h.jobs.Status(ctx, id)
	if errors.Is(err, queue.ErrNotFound) || (err == nil && st.Tenant != actor(c).Tenant) {
		return httpx.NewProblem(http.StatusNotFound, "no such job")
	}
	if err != nil {
		return err
	}
	if !slices.Contains(replayable, st.State) {
		return httpx.NewProblem(http.StatusConflict, "the job is "+string(st.State)+": only failed or dead jobs are replayed")
	}
	dl, err := h.jobs.DeadLetters()
	if err != nil {
		return err
	}
	n, err := dl.Replay(ctx, st.Queue, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return httpx.NewProblem(http.StatusConflict, "the job left the dead letters meanwhile")
	}
	return c.JSON(http.StatusAccepted, JobAccepted{JobID: id})
}

func (h *Handlers) snapshots(c echo.Context) error {
	s, err := h.svc.Snapshots(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s)
}
