// Package domain is the tracker's core: tenants' users, projects and
// tasks, usage snapshots, and the ports the rest of the service plugs
// into (storage and mail). It imports nothing but the standard library:
// no gorm, no apex, no HTTP.
package domain

import (
	"context"
	"errors"
	"time"
)

// Errors of the ports, for use with errors.Is. Adapters translate their
// native errors into these.
var (
	// ErrNotFound is an unknown ID, or one of another tenant.
	ErrNotFound = errors.New("not found")
	// ErrConflict is a value that must be unique and is taken (an email
	// in a tenant, a project name in a tenant, a snapshot's job ID).
	ErrConflict = errors.New("already exists")
	// ErrInvalid is input that breaks a rule of the domain.
	ErrInvalid = errors.New("invalid")
)

// Roles a user can hold. The first user of a tenant owns it.
const (
	RoleOwner  = "owner"
	RoleMember = "member"
)

// User is an account of one tenant. An email is unique within a tenant.
type User struct {
	ID           string
	Tenant       string
	Email        string
	PasswordHash string
	Roles        []string
	CreatedAt    time.Time
}

// Project belongs to one tenant; its name is unique within the tenant.
type Project struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	Name      string    `json:"name"`
	Owner     string    `json:"owner"`
	CreatedAt time.Time `json:"created_at"`
}

// Task is a to-do item of a project.
type Task struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	ProjectID string    `json:"project_id"`
	Title     string    `json:"title"`
	Done      bool      `json:"done"`
	CreatedAt time.Time `json:"created_at"`
}

// Snapshot is the service's size at one tick of its schedule, recorded
// by the job of that tick (JobID identifies it).
type Snapshot struct {
	JobID    string    `json:"job_id"`
	Tick     time.Time `json:"tick"`
	Projects int64     `json:"projects"`
	Tasks    int64     `json:"tasks"`
}

// Users stores accounts. Implementations are safe for concurrent use and
// honour ctx.
type Users interface {
	// CreateUser stores u; an email taken in u.Tenant (compared
	// lower-cased) is ErrConflict.
	CreateUser(ctx context.Context, u User) error
	// UserByEmail finds a user of tenant by email (any case), or
	// ErrNotFound.
	UserByEmail(ctx context.Context, tenant, email string) (User, error)
	// UserByID finds a user by ID in any tenant, or ErrNotFound.
	UserByID(ctx context.Context, id string) (User, error)
	// CountUsers counts tenant's users.
	CountUsers(ctx context.Context, tenant string) (int64, error)
}

// Projects stores projects and their tasks; every read is scoped to one
// tenant, so another tenant's ID is ErrNotFound. Implementations are
// safe for concurrent use and honour ctx.
type Projects interface {
	// CreateProject stores p; a name taken in p.Tenant is ErrConflict.
	CreateProject(ctx context.Context, p Project) error
	// Project returns tenant's project id, or ErrNotFound.
	Project(ctx context.Context, tenant, id string) (Project, error)
	// Projects lists tenant's projects, oldest first.
	Projects(ctx context.Context, tenant string) ([]Project, error)
	// CreateTask stores t; its project must exist in t.Tenant
	// (ErrNotFound otherwise).
	CreateTask(ctx context.Context, t Task) error
	// Tasks lists the tasks of tenant's project, oldest first (none for
	// an unknown project).
	Tasks(ctx context.Context, tenant, projectID string) ([]Task, error)
}

// Snapshots stores usage snapshots. Implementations are safe for
// concurrent use and honour ctx.
type Snapshots interface {
	// RecordSnapshot stores s; a JobID already recorded is ErrConflict
	// (a job that ran twice records once).
	RecordSnapshot(ctx context.Context, s Snapshot) error
	// Snapshots lists every snapshot by tick, oldest first.
	Snapshots(ctx context.Context) ([]Snapshot, error)
	// Totals counts projects and tasks across all tenants.
	Totals(ctx context.Context) (projects, tasks int64, err error)
}

// Repository is everything the service stores: one adapter implements
// all three ports.
type Repository interface {
	Users
	Projects
	Snapshots
}

// Email is one plain-text message to one recipient.
type Email struct {
	To      string
	Subject string
	Body    string
}

// Mailer sends email. Send returns once the message is accepted for
// delivery (by the SMTP server, or by the in-memory outbox); an error
// means it was not, and the caller may retry. Safe for concurrent use;
// honours ctx.
type Mailer interface {
	Send(ctx context.Context, e Email) error
}
