// Package memrepo is domain.Repository in process memory: for unit tests
// of the use cases, and proof (it passes domaintest) that the contract
// does not lean on a database.
package memrepo

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/apexgo/apex/examples/service/domain"
)

// Repository is safe for concurrent use. The zero value is not usable:
// call New.
type Repository struct {
	mu        sync.Mutex
	users     map[string]domain.User // by ID
	projects  map[string]domain.Project
	tasks     map[string][]domain.Task // by project ID
	snapshots map[string]domain.Snapshot
}

var _ domain.Repository = (*Repository)(nil)

// New returns an empty repository.
func New() *Repository {
	return &Repository{users: map[string]domain.User{}, projects: map[string]domain.Project{},
		tasks: map[string][]domain.Task{}, snapshots: map[string]domain.Snapshot{}}
}

// CreateUser implements domain.Users.
func (r *Repository) CreateUser(ctx context.Context, u domain.User) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	u.Email = strings.ToLower(u.Email)
	for _, o := range r.users {
		if o.ID == u.ID || (o.Tenant == u.Tenant && o.Email == u.Email) {
			return domain.ErrConflict
		}
	}
	u.Roles = slices.Clone(u.Roles)
	r.users[u.ID] = u
	return nil
}

// UserByEmail implements domain.Users.
func (r *Repository) UserByEmail(ctx context.Context, tenant, email string) (domain.User, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range r.users {
		if u.Tenant == tenant && u.Email == strings.ToLower(email) {
			return u, nil
		}
	}
	return domain.User{}, domain.ErrNotFound
}

// UserByID implements domain.Users.
func (r *Repository) UserByID(ctx context.Context, id string) (domain.User, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if u, ok := r.users[id]; ok {
		return u, nil
	}
	return domain.User{}, domain.ErrNotFound
}

// CountUsers implements domain.Users.
func (r *Repository) CountUsers(ctx context.Context, tenant string) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for _, u := range r.users {
		if u.Tenant == tenant {
			n++
		}
	}
	return n, nil
}

// CreateProject implements domain.Projects.
func (r *Repository) CreateProject(ctx context.Context, p domain.Project) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.projects {
		if o.ID == p.ID || (o.Tenant == p.Tenant && o.Name == p.Name) {
			return domain.ErrConflict
		}
	}
	r.projects[p.ID] = p
	return nil
}

// Project implements domain.Projects.
func (r *Repository) Project(ctx context.Context, tenant, id string) (domain.Project, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.projects[id]; ok && p.Tenant == tenant {
		return p, nil
	}
	return domain.Project{}, domain.ErrNotFound
}

// Projects implements domain.Projects.
func (r *Repository) Projects(ctx context.Context, tenant string) ([]domain.Project, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []domain.Project{}
	for _, p := range r.projects {
		if p.Tenant == tenant {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b domain.Project) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// CreateTask implements domain.Projects.
func (r *Repository) CreateTask(ctx context.Context, t domain.Task) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.projects[t.ProjectID]; !ok || p.Tenant != t.Tenant {
		return domain.ErrNotFound
	}
	r.tasks[t.ProjectID] = append(r.tasks[t.ProjectID], t)
	return nil
}

// Tasks implements domain.Projects.
func (r *Repository) Tasks(ctx context.Context, tenant, projectID string) ([]domain.Task, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []domain.Task{}
	for _, t := range r.tasks[projectID] {
		if t.Tenant == tenant {
			out = append(out, t)
		}
	}
	slices.SortStableFunc(out, func(a, b domain.Task) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// RecordSnapshot implements domain.Snapshots.
func (r *Repository) RecordSnapshot(ctx context.Context, s domain.Snapshot) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.snapshots[s.JobID]; ok {
		return domain.ErrConflict
	}
	r.snapshots[s.JobID] = s
	return nil
}

// Snapshots implements domain.Snapshots.
func (r *Repository) Snapshots(ctx context.Context) ([]domain.Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []domain.Snapshot{}
	for _, s := range r.snapshots {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b domain.Snapshot) int { return cmp.Or(a.Tick.Compare(b.Tick), cmp.Compare(a.JobID, b.JobID)) })
	return out, nil
}

// Totals implements domain.Snapshots.
func (r *Repository) Totals(ctx context.Context) (projects, tasks int64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ts := range r.tasks {
		tasks += int64(len(ts))
	}
	return int64(len(r.projects)), tasks, nil
}
