// Package app holds the tracker's use cases: register and log in,
// projects and tasks per tenant, reports built in the background and
// mailed, usage snapshots on a schedule. It depends on the domain's
// ports and on the small ports below, never on HTTP, gorm or a queue
// backend: the adapters and apex's modules plug in from outside.
package app

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apexgo/apex/examples/service/domain"
)

// Job kinds the use cases enqueue; the worker handles them.
const (
	// KindReport builds a project's report and mails it ([ReportRequest]).
	KindReport = "report.build"
	// KindProjectCreated mails the owner of a new project
	// ([ProjectCreated]); it is enqueued in the project's transaction.
	KindProjectCreated = "project.created"
	// KindSnapshot records a usage snapshot on every tick of the
	// schedule.
	KindSnapshot = "stats.snapshot"
)

// Errors of the use cases, for use with errors.Is.
var (
	// ErrBadCredentials is a wrong email or password.
	ErrBadCredentials = errors.New("wrong email or password")
	// ErrNothingToReport is a report of a project without tasks: the job
	// fails for good (into the dead letters) and can be replayed once
	// the project has tasks.
	ErrNothingToReport = errors.New("the project has no tasks to report")
)

// Hasher hashes and checks passwords (auth.Passwords is one).
type Hasher interface {
	Hash(ctx context.Context, password string) (string, error)
	// Verify returns nil for a match and an error otherwise.
	Verify(ctx context.Context, hash, password string) error
	// VerifyNoUser spends the time of a Verify, so that an unknown email
	// answers as slowly as a wrong password; it returns an error.
	VerifyNoUser(ctx context.Context, password string) error
}

// Jobs enqueues background jobs.
type Jobs interface {
	// Enqueue enqueues now and returns the job's ID.
	Enqueue(ctx context.Context, kind string, payload any) (string, error)
	// EnqueueInTx records the job in the transaction that ctx carries
	// (from Tx.InTx): it runs if and only if the transaction commits.
	EnqueueInTx(ctx context.Context, kind string, payload any) (string, error)
}

// Tx runs fn in one database transaction, carried by fn's ctx.
type Tx interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// ProjectCache keeps each tenant's project list (cache.Typed is one).
type ProjectCache interface {
	GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]domain.Project, error)) ([]domain.Project, error)
	Delete(ctx context.Context, key string) error
}

// Rooms pushes messages to the subscribers of a project's room.
type Rooms interface {
	// Publish sends v (JSON-encoded) to channel on every instance.
	Publish(ctx context.Context, channel string, v any) error
}

// Actor is the authenticated user a use case acts for.
type Actor struct {
	UserID string
	Tenant string
	Email  string
	Roles  []string
}

// Params of [New].
type Params struct {
	Repo   domain.Repository
	Mailer domain.Mailer
	Hasher Hasher
	Jobs   Jobs
	Tx     Tx
	Cache  ProjectCache
	Rooms  Rooms
	// CacheTTL bounds how long a project list is served from the cache.
	// Default 1m.
	CacheTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Service is the use cases. Safe for concurrent use.
type Service struct {
	p Params
}

// New returns the use cases over p's ports.
func New(p Params) *Service {
	if p.CacheTTL <= 0 {
		p.CacheTTL = time.Minute
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	return &Service{p: p}
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns a random 128-bit ID, 26 lower-case base32 characters.
func NewID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return strings.ToLower(idEncoding.EncodeToString(b))
}

func (s *Service) now() time.Time { return s.p.Now().UTC().Truncate(time.Millisecond) }

// RegisterParams are a new account's.
type RegisterParams struct {
	Tenant   string
	Email    string
	Password string
}

// Register creates an account in a tenant. The tenant's first account
// owns it (roles owner and member); later ones are members. A taken
// email is domain.ErrConflict.
func (s *Service) Register(ctx context.Context, p RegisterParams) (domain.User, error) {
	hash, err := s.p.Hasher.Hash(ctx, p.Password)
	if err != nil {
		return domain.User{}, err
	}
	n, err := s.p.Repo.CountUsers(ctx, p.Tenant)
	if err != nil {
		return domain.User{}, err
	}
	roles := []string{domain.RoleMember}
	if n == 0 {
		roles = []string{domain.RoleOwner, domain.RoleMember}
	}
	u := domain.User{ID: NewID(), Tenant: p.Tenant, Email: strings.ToLower(p.Email), PasswordHash: hash, Roles: roles, CreatedAt: s.now()}
	if err := s.p.Repo.CreateUser(ctx, u); err != nil {
		return domain.User{}, err
	}
	return u, nil
}

// Login checks a tenant's user's password: ErrBadCredentials for an
// unknown email or a wrong password, after the same work.
func (s *Service) Login(ctx context.Context, tenant, email, password string) (domain.User, error) {
	u, err := s.p.Repo.UserByEmail(ctx, tenant, email)
	if errors.Is(err, domain.ErrNotFound) {
		if err := s.p.Hasher.VerifyNoUser(ctx, password); ctx.Err() != nil {
			return domain.User{}, err
		}
		return domain.User{}, ErrBadCredentials
	}
	if err != nil {
		return domain.User{}, err
	}
	if err := s.p.Hasher.Verify(ctx, u.PasswordHash, password); err != nil {
		if ctx.Err() != nil {
			return domain.User{}, ctx.Err()
		}
		return domain.User{}, ErrBadCredentials
	}
	return u, nil
}

// ProjectCreated is the payload of KindProjectCreated.
type ProjectCreated struct {
	ProjectID string `json:"project_id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
}

// CreateProject stores a project of the actor's tenant and, in the same
// transaction, the job that mails its owner: no mail for a project that
// was rolled back, no project without its mail. It returns the project
// and the job's ID. A taken name is domain.ErrConflict.
func (s *Service) CreateProject(ctx context.Context, a Actor, name string) (domain.Project, string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return domain.Project{}, "", fmt.Errorf("%w: a project needs a name", domain.ErrInvalid)
	}
	p := domain.Project{ID: NewID(), Tenant: a.Tenant, Name: name, Owner: a.UserID, CreatedAt: s.now()}
	var jobID string
	err := s.p.Tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.p.Repo.CreateProject(ctx, p); err != nil {
			return err
		}
		var err error
		jobID, err = s.p.Jobs.EnqueueInTx(ctx, KindProjectCreated, ProjectCreated{ProjectID: p.ID, Name: p.Name, Email: a.Email})
		return err
	})
	if err != nil {
		return domain.Project{}, "", err
	}
	// After the commit: the next list reloads (on every instance, with a
	// shared cache).
	if err := s.p.Cache.Delete(ctx, projectsKey(a.Tenant)); err != nil {
		return p, jobID, fmt.Errorf("project %s created, but its tenant's cached list could not be dropped: %w", p.ID, err)
	}
	return p, jobID, nil
}

func projectsKey(tenant string) string { return "projects:" + tenant }

// Projects lists the actor's tenant's projects, from the cache when it
// has them.
func (s *Service) Projects(ctx context.Context, a Actor) ([]domain.Project, error) {
	return s.p.Cache.GetOrLoad(ctx, projectsKey(a.Tenant), s.p.CacheTTL, func(ctx context.Context) ([]domain.Project, error) {
		return s.p.Repo.Projects(ctx, a.Tenant)
	})
}

// Project returns one of the actor's tenant's projects.
func (s *Service) Project(ctx context.Context, a Actor, id string) (domain.Project, error) {
	return s.p.Repo.Project(ctx, a.Tenant, id)
}

// RoomOf is the realtime channel of a project: its task events go there.
func RoomOf(tenant, projectID string) string { return "project:" + tenant + "." + projectID }

// ParseRoom returns the tenant and project of a channel from RoomOf.
func ParseRoom(channel string) (tenant, projectID string, ok bool) {
	rest, ok := strings.CutPrefix(channel, "project:")
	if !ok {
		return "", "", false
	}
	tenant, projectID, ok = strings.Cut(rest, ".")
	return tenant, projectID, ok && tenant != "" && projectID != ""
}

// TaskEvent is what a project's room receives when a task is added.
type TaskEvent struct {
	Type string      `json:"type"`
	Task domain.Task `json:"task"`
}

// AddTask adds a task to a project of the actor's tenant and tells the
// project's room. The task is stored even if the room cannot be told
// (the error says so).
func (s *Service) AddTask(ctx context.Context, a Actor, projectID, title string) (domain.Task, error) {
	title = strings.TrimSpace(title)
	if title == "" {
		return domain.Task{}, fmt.Errorf("%w: a task needs a title", domain.ErrInvalid)
	}
	t := domain.Task{ID: NewID(), Tenant: a.Tenant, ProjectID: projectID, Title: title, CreatedAt: s.now()}
	if err := s.p.Repo.CreateTask(ctx, t); err != nil {
		return domain.Task{}, err
	}
	if err := s.p.Rooms.Publish(ctx, RoomOf(a.Tenant, projectID), TaskEvent{Type: "task.added", Task: t}); err != nil {
		return t, fmt.Errorf("task %s added, but its room was not told: %w", t.ID, err)
	}
	return t, nil
}

// Tasks lists a project's tasks.
func (s *Service) Tasks(ctx context.Context, a Actor, projectID string) ([]domain.Task, error) {
	if _, err := s.p.Repo.Project(ctx, a.Tenant, projectID); err != nil {
		return nil, err
	}
	return s.p.Repo.Tasks(ctx, a.Tenant, projectID)
}

// ReportRequest is the payload of KindReport.
type ReportRequest struct {
	ProjectID string `json:"project_id"`
	Email     string `json:"email"`
}

// RequestReport enqueues the report of a project of the actor's tenant;
// it is mailed to the actor when built. It returns the job's ID.
func (s *Service) RequestReport(ctx context.Context, a Actor, projectID string) (string, error) {
	if _, err := s.p.Repo.Project(ctx, a.Tenant, projectID); err != nil {
		return "", err
	}
	return s.p.Jobs.Enqueue(ctx, KindReport, ReportRequest{ProjectID: projectID, Email: a.Email})
}

// Report is a built report: the job's result.
type Report struct {
	ProjectID string `json:"project_id"`
	Project   string `json:"project"`
	Tasks     int    `json:"tasks"`
	Done      int    `json:"done"`
	MailedTo  string `json:"mailed_to"`
}

// BuildReport counts a project's tasks and mails the result: the job of
// KindReport, in the tenant that enqueued it. A project without tasks is
// ErrNothingToReport.
func (s *Service) BuildReport(ctx context.Context, tenant string, r ReportRequest) (Report, error) {
	p, err := s.p.Repo.Project(ctx, tenant, r.ProjectID)
	if err != nil {
		return Report{}, err
	}
	tasks, err := s.p.Repo.Tasks(ctx, tenant, r.ProjectID)
	if err != nil {
		return Report{}, err
	}
	if len(tasks) == 0 {
		return Report{}, fmt.Errorf("%w: %s", ErrNothingToReport, p.Name)
	}
	rep := Report{ProjectID: p.ID, Project: p.Name, Tasks: len(tasks), MailedTo: r.Email}
	for _, t := range tasks {
		if t.Done {
			rep.Done++
		}
	}
	err = s.p.Mailer.Send(ctx, domain.Email{To: r.Email, Subject: "Report ready: " + p.Name,
		Body: fmt.Sprintf("Project %s has %d tasks, %d done.\n", p.Name, rep.Tasks, rep.Done)})
	return rep, err
}

// WelcomeProject mails a new project's owner: the job of
// KindProjectCreated.
func (s *Service) WelcomeProject(ctx context.Context, e ProjectCreated) error {
	return s.p.Mailer.Send(ctx, domain.Email{To: e.Email, Subject: "Project created: " + e.Name,
		Body: fmt.Sprintf("Your project %s is ready.\n", e.Name)})
}

// Snapshot records the service's size at a tick: the job of
// KindSnapshot. A job that runs again records nothing more.
func (s *Service) Snapshot(ctx context.Context, jobID string, tick time.Time) error {
	projects, tasks, err := s.p.Repo.Totals(ctx)
	if err != nil {
		return err
	}
	err = s.p.Repo.RecordSnapshot(ctx, domain.Snapshot{JobID: jobID, Tick: tick.UTC(), Projects: projects, Tasks: tasks})
	if errors.Is(err, domain.ErrConflict) {
		return nil
	}
	return err
}

// Snapshots lists the snapshots recorded.
func (s *Service) Snapshots(ctx context.Context) ([]domain.Snapshot, error) {
	return s.p.Repo.Snapshots(ctx)
}

// IsOwner reports whether the actor owns its tenant.
func (a Actor) IsOwner() bool { return slices.Contains(a.Roles, domain.RoleOwner) }
