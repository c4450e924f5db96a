// Package gormrepo is domain.Repository on gorm through apex's
// data.Registry: it asks the registry for the database on every call,
// so it joins a data.InTx transaction carried in ctx (the outbox relies
// on it) and runs on SQLite, Postgres or MySQL unchanged. Tenants are a
// column: every read of a tenant's rows filters on it.
package gormrepo

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/examples/service/domain"
)

// Repository is safe for concurrent use.
type Repository struct {
	reg data.Registry
}

var _ domain.Repository = (*Repository)(nil)

// New returns the repository on reg's databases (the tables of
// migrations/).
func New(reg data.Registry) *Repository { return &Repository{reg: reg} }

type userRow struct {
	ID           string `gorm:"primaryKey"`
	Tenant       string
	Email        string
	PasswordHash string
	Roles        string // comma-separated
	CreatedAt    int64  `gorm:"autoCreateTime:milli"` // Unix milliseconds
}

func (userRow) TableName() string { return "tracker_users" }

type projectRow struct {
	ID        string `gorm:"primaryKey"`
	Tenant    string
	Name      string
	Owner     string
	CreatedAt int64 `gorm:"autoCreateTime:milli"` // Unix milliseconds
}

func (projectRow) TableName() string { return "tracker_projects" }

type taskRow struct {
	ID        string `gorm:"primaryKey"`
	Tenant    string
	ProjectID string
	Title     string
	Done      bool
	CreatedAt int64 `gorm:"autoCreateTime:milli"` // Unix milliseconds
}

func (taskRow) TableName() string { return "tracker_tasks" }

type snapshotRow struct {
	JobID    string `gorm:"primaryKey"`
	Tick     int64  // Unix milliseconds
	Projects int64
	Tasks    int64
}

func (snapshotRow) TableName() string { return "tracker_snapshots" }

// translate maps data's sentinels to the domain's.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, data.ErrNotFound):
		return errors.Join(domain.ErrNotFound, err)
	case errors.Is(err, data.ErrConflict):
		return errors.Join(domain.ErrConflict, err)
	}
	return err
}

func (r *Repository) db(ctx context.Context) (*gorm.DB, error) { return r.reg.DB(ctx) }

// ms and fromMS convert times to the columns' Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// CreateUser implements domain.Users.
func (r *Repository) CreateUser(ctx context.Context, u domain.User) error {
	db, err := r.db(ctx)
	if err != nil {
		return err
	}
	return translate(db.Create(&userRow{ID: u.ID, Tenant: u.Tenant, Email: strings.ToLower(u.Email), PasswordHash: u.PasswordHash,
		Roles: strings.Join(u.Roles, ","), CreatedAt: ms(u.CreatedAt)}).Error)
}

func (r *Repository) user(ctx context.Context, where string, args ...any) (domain.User, error) {
	db, err := r.db(ctx)
	if err != nil {
		return domain.User{}, err
	}
	var row userRow
	if err := db.Where(where, args...).Take(&row).Error; err != nil {
		return domain.User{}, translate(err)
	}
	u := domain.User{ID: row.ID, Tenant: row.Tenant, Email: row.Email, PasswordHash: row.PasswordHash, CreatedAt: fromMS(row.CreatedAt)}
	if row.Roles != "" {
		u.Roles = strings.Split(row.Roles, ",")
	}
	return u, nil
}

// UserByEmail implements domain.Users.
func (r *Repository) UserByEmail(ctx context.Context, tenant, email string) (domain.User, error) {
	return r.user(ctx, "tenant = ? AND email = ?", tenant, strings.ToLower(email))
}

// UserByID implements domain.Users.
func (r *Repository) UserByID(ctx context.Context, id string) (domain.User, error) {
	return r.user(ctx, "id = ?", id)
}

// CountUsers implements domain.Users.
func (r *Repository) CountUsers(ctx context.Context, tenant string) (int64, error) {
	db, err := r.db(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	return n, translate(db.Model(&userRow{}).Where("tenant = ?", tenant).Count(&n).Error)
}

func (row projectRow) project() domain.Project {
	return domain.Project{ID: row.ID, Tenant: row.Tenant, Name: row.Name, Owner: row.Owner, CreatedAt: fromMS(row.CreatedAt)}
}

// CreateProject implements domain.Projects.
func (r *Repository) CreateProject(ctx context.Context, p domain.Project) error {
	db, err := r.db(ctx)
	if err != nil {
		return err
	}
	return translate(db.Create(&projectRow{ID: p.ID, Tenant: p.Tenant, Name: p.Name, Owner: p.Owner, CreatedAt: ms(p.CreatedAt)}).Error)
}

// Project implements domain.Projects.
func (r *Repository) Project(ctx context.Context, tenant, id string) (domain.Project, error) {
	db, err := r.db(ctx)
	if err != nil {
		return domain.Project{}, err
	}
	var row projectRow
	if err := db.Where("tenant = ? AND id = ?", tenant, id).Take(&row).Error; err != nil {
		return domain.Project{}, translate(err)
	}
	return row.project(), nil
}

// Projects implements domain.Projects.
func (r *Repository) Projects(ctx context.Context, tenant string) ([]domain.Project, error) {
	db, err := r.db(ctx)
	if err != nil {
		return nil, err
	}
	var rows []projectRow
	if err := db.Where("tenant = ?", tenant).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]domain.Project, len(rows))
	for i, row := range rows {
		out[i] = row.project()
	}
	return out, nil
}

// CreateTask implements domain.Projects. The project is checked in the
// same statement's transaction: a task never lands in another tenant's
// project.
func (r *Repository) CreateTask(ctx context.Context, t domain.Task) error {
	return data.InTx(ctx, r.reg, func(ctx context.Context) error {
		if _, err := r.Project(ctx, t.Tenant, t.ProjectID); err != nil {
			return err
		}
		db, err := r.db(ctx)
		if err != nil {
			return err
		}
		return translate(db.Create(&taskRow{ID: t.ID, Tenant: t.Tenant, ProjectID: t.ProjectID, Title: t.Title, Done: t.Done, CreatedAt: ms(t.CreatedAt)}).Error)
	})
}

// Tasks implements domain.Projects.
func (r *Repository) Tasks(ctx context.Context, tenant, projectID string) ([]domain.Task, error) {
	db, err := r.db(ctx)
	if err != nil {
		return nil, err
	}
	var rows []taskRow
	if err := db.Where("tenant = ? AND project_id = ?", tenant, projectID).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]domain.Task, len(rows))
	for i, row := range rows {
		out[i] = domain.Task{ID: row.ID, Tenant: row.Tenant, ProjectID: row.ProjectID, Title: row.Title, Done: row.Done, CreatedAt: fromMS(row.CreatedAt)}
	}
	return out, nil
}

// RecordSnapshot implements domain.Snapshots.
func (r *Repository) RecordSnapshot(ctx context.Context, s domain.Snapshot) error {
	db, err := r.db(ctx)
	if err != nil {
		return err
	}
	return translate(db.Create(&snapshotRow{JobID: s.JobID, Tick: ms(s.Tick), Projects: s.Projects, Tasks: s.Tasks}).Error)
}

// Snapshots implements domain.Snapshots.
func (r *Repository) Snapshots(ctx context.Context) ([]domain.Snapshot, error) {
	db, err := r.db(ctx)
	if err != nil {
		return nil, err
	}
	var rows []snapshotRow
	if err := db.Order("tick, job_id").Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]domain.Snapshot, len(rows))
	for i, row := range rows {
		out[i] = domain.Snapshot{JobID: row.JobID, Tick: fromMS(row.Tick), Projects: row.Projects, Tasks: row.Tasks}
	}
	return out, nil
}

// Totals implements domain.Snapshots.
func (r *Repository) Totals(ctx context.Context) (projects, tasks int64, err error) {
	db, err := r.db(ctx)
	if err != nil {
		return 0, 0, err
	}
	if err := db.Model(&projectRow{}).Count(&projects).Error; err != nil {
		return 0, 0, translate(err)
	}
	return projects, tasks, translate(db.Model(&taskRow{}).Count(&tasks).Error)
}
