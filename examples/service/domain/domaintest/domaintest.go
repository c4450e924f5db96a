// Package domaintest is the contract of the domain's ports: every
// adapter of domain.Repository (gorm on SQLite and Postgres, memory)
// runs RunRepository, every domain.Mailer (SMTP, memory) runs
// RunMailer. Each test makes its own tenants and IDs, so adapters may
// share one database between tests.
package domaintest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/examples/service/domain"
)

// NewRepository returns the adapter under test, on storage that lives
// as long as t.
type NewRepository func(t *testing.T) domain.Repository

// unique returns prefix and 12 random hex digits.
func unique(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// now is a time the databases keep exactly (whole microseconds, UTC).
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// RunRepository runs every behaviour of the storage ports.
func RunRepository(t *testing.T, newRepo NewRepository) {
	t.Run("Users", func(t *testing.T) { t.Parallel(); Users(t, newRepo(t)) })
	t.Run("Projects", func(t *testing.T) { t.Parallel(); Projects(t, newRepo(t)) })
	t.Run("TenantIsolation", func(t *testing.T) { t.Parallel(); TenantIsolation(t, newRepo(t)) })
	t.Run("Tasks", func(t *testing.T) { t.Parallel(); Tasks(t, newRepo(t)) })
	t.Run("Snapshots", func(t *testing.T) { t.Parallel(); Snapshots(t, newRepo(t)) })
	t.Run("Concurrent", func(t *testing.T) { t.Parallel(); Concurrent(t, newRepo(t)) })
}

// Users: create, find by email in any case, find by ID, a taken email
// in the tenant is ErrConflict, the same email in another tenant is not.
func Users(t *testing.T, r domain.Repository) {
	ctx := t.Context()
	tenant, other := unique("t"), unique("t")
	u := domain.User{ID: unique("u"), Tenant: tenant, Email: "ada@example.com", PasswordHash: "h1", Roles: []string{domain.RoleOwner, domain.RoleMember}, CreatedAt: now()}
	if err := r.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err := r.UserByEmail(ctx, tenant, "ADA@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || got.Tenant != tenant || got.PasswordHash != "h1" || !slices.Equal(got.Roles, u.Roles) || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("UserByEmail = %+v, want %+v", got, u)
	}
	if got, err = r.UserByID(ctx, u.ID); err != nil || got.Email != "ada@example.com" {
		t.Fatalf("UserByID = %+v, %v", got, err)
	}
	dup := u
	dup.ID, dup.Email = unique("u"), "Ada@Example.com"
	if err := r.CreateUser(ctx, dup); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("same email, same tenant: %v, want ErrConflict", err)
	}
	dup.Tenant = other
	if err := r.CreateUser(ctx, dup); err != nil {
		t.Fatalf("same email, other tenant: %v", err)
	}
	if _, err := r.UserByEmail(ctx, tenant, "nobody@example.com"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unknown email: %v", err)
	}
	if _, err := r.UserByID(ctx, unique("u")); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unknown ID: %v", err)
	}
	for tn, want := range map[string]int64{tenant: 1, other: 1, unique("t"): 0} {
		if n, err := r.CountUsers(ctx, tn); err != nil || n != want {
			t.Fatalf("CountUsers(%s) = %d, %v; want %d", tn, n, err, want)
		}
	}
}

func project(tenant, name string) domain.Project {
	return domain.Project{ID: unique("p"), Tenant: tenant, Name: name, Owner: unique("u"), CreatedAt: now()}
}

// Projects: create, get, list oldest first, a taken name is ErrConflict.
func Projects(t *testing.T, r domain.Repository) {
	ctx := t.Context()
	tenant := unique("t")
	a, b := project(tenant, "alpha"), project(tenant, "beta")
	b.CreatedAt = a.CreatedAt.Add(time.Second)
	for _, p := range []domain.Project{b, a} {
		if err := r.CreateProject(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	got, err := r.Project(ctx, tenant, a.ID)
	if err != nil || got != a {
		t.Fatalf("Project = %+v, %v; want %+v", got, err, a)
	}
	list, err := r.Projects(ctx, tenant)
	if err != nil || len(list) != 2 || list[0] != a || list[1] != b {
		t.Fatalf("Projects = %+v, %v; want alpha then beta", list, err)
	}
	if err := r.CreateProject(ctx, project(tenant, "alpha")); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("taken name: %v, want ErrConflict", err)
	}
	if _, err := r.Project(ctx, tenant, unique("p")); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unknown project: %v", err)
	}
	if list, err := r.Projects(ctx, unique("t")); err != nil || len(list) != 0 {
		t.Fatalf("empty tenant: %+v, %v", list, err)
	}
}

// TenantIsolation: a tenant never sees another's projects or tasks, and
// cannot add a task to another's project; names are per tenant.
func TenantIsolation(t *testing.T, r domain.Repository) {
	ctx := t.Context()
	a, b := unique("t"), unique("t")
	pa := project(a, "shared-name")
	if err := r.CreateProject(ctx, pa); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateProject(ctx, project(b, "shared-name")); err != nil {
		t.Fatalf("the same name in another tenant: %v", err)
	}
	if _, err := r.Project(ctx, b, pa.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("tenant b reads a's project: %v", err)
	}
	if err := r.CreateTask(ctx, domain.Task{ID: unique("k"), Tenant: b, ProjectID: pa.ID, Title: "x", CreatedAt: now()}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("tenant b adds a task to a's project: %v", err)
	}
	if list, _ := r.Projects(ctx, b); len(list) != 1 || list[0].ID == pa.ID {
		t.Fatalf("tenant b lists %+v", list)
	}
	if err := r.CreateTask(ctx, domain.Task{ID: unique("k"), Tenant: a, ProjectID: pa.ID, Title: "x", CreatedAt: now()}); err != nil {
		t.Fatal(err)
	}
	if list, err := r.Tasks(ctx, b, pa.ID); err != nil || len(list) != 0 {
		t.Fatalf("tenant b lists a's tasks: %+v, %v", list, err)
	}
}

// Tasks: create in order, list oldest first; an unknown project is
// ErrNotFound.
func Tasks(t *testing.T, r domain.Repository) {
	ctx := t.Context()
	tenant := unique("t")
	p := project(tenant, "p")
	if err := r.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	var want []domain.Task
	for i := range 3 {
		k := domain.Task{ID: unique("k"), Tenant: tenant, ProjectID: p.ID, Title: strings.Repeat("t", i+1), Done: i == 1, CreatedAt: p.CreatedAt.Add(time.Duration(i) * time.Second)}
		if err := r.CreateTask(ctx, k); err != nil {
			t.Fatal(err)
		}
		want = append(want, k)
	}
	got, err := r.Tasks(ctx, tenant, p.ID)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Tasks = %+v, %v; want %+v", got, err, want)
	}
	if err := r.CreateTask(ctx, domain.Task{ID: unique("k"), Tenant: tenant, ProjectID: unique("p"), Title: "x", CreatedAt: now()}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("task of an unknown project: %v", err)
	}
}

// Snapshots: recorded once per job ID, listed by tick; Totals counts
// every tenant's projects and tasks.
func Snapshots(t *testing.T, r domain.Repository) {
	ctx := t.Context()
	p0, k0, err := r.Totals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tenant := unique("t")
	p := project(tenant, "p")
	if err := r.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateTask(ctx, domain.Task{ID: unique("k"), Tenant: tenant, ProjectID: p.ID, Title: "x", CreatedAt: now()}); err != nil {
		t.Fatal(err)
	}
	p1, k1, err := r.Totals(ctx)
	// Other tests may add rows meanwhile: at least ours are counted.
	if err != nil || p1 < p0+1 || k1 < k0+1 {
		t.Fatalf("Totals %d/%d then %d/%d, %v", p0, k0, p1, k1, err)
	}
	tick := now().Truncate(time.Second)
	s1 := domain.Snapshot{JobID: unique("cron-"), Tick: tick.Add(time.Second), Projects: 3, Tasks: 4}
	s2 := domain.Snapshot{JobID: unique("cron-"), Tick: tick, Projects: 1, Tasks: 2}
	for _, s := range []domain.Snapshot{s1, s2} {
		if err := r.RecordSnapshot(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.RecordSnapshot(ctx, s1); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("a job ID recorded twice: %v, want ErrConflict", err)
	}
	all, err := r.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ours []domain.Snapshot
	for _, s := range all {
		if s.JobID == s1.JobID || s.JobID == s2.JobID {
			ours = append(ours, s)
		}
	}
	if len(ours) != 2 || !ours[0].Tick.Equal(s2.Tick) || ours[0].Projects != 1 || ours[1].JobID != s1.JobID || ours[1].Tasks != 4 {
		t.Fatalf("Snapshots = %+v; want s2 then s1", ours)
	}
}

// Concurrent: 8 goroutines registering the same email in one tenant:
// exactly one wins, the others get ErrConflict.
func Concurrent(t *testing.T, r domain.Repository) {
	ctx := context.WithoutCancel(t.Context())
	tenant := unique("t")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			errs[i] = r.CreateUser(ctx, domain.User{ID: unique("u"), Tenant: tenant, Email: "race@example.com", PasswordHash: "h", Roles: []string{domain.RoleMember}, CreatedAt: now()})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, domain.ErrConflict):
			t.Fatalf("concurrent create: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creates won, want 1", won)
	}
}

// NewMailer returns the mailer under test and a function that returns
// what its recipient side has received so far (an SMTP server's inbox,
// the memory outbox).
type NewMailer func(t *testing.T) (domain.Mailer, func() []domain.Email)

// RunMailer runs the Mailer contract: a message arrives with its
// recipient, subject and body (non-ASCII included), several concurrent
// sends all arrive, and a canceled context is an error.
func RunMailer(t *testing.T, newMailer NewMailer) {
	t.Run("Delivers", func(t *testing.T) {
		t.Parallel()
		m, inbox := newMailer(t)
		e := domain.Email{To: "ada@example.com", Subject: "Report ready: Zürich", Body: "3 tasks, 1 done.\nSee you — the tracker."}
		if err := m.Send(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		got := waitMail(t, inbox, 1)
		if got[0].To != e.To || got[0].Subject != e.Subject || strings.TrimRight(got[0].Body, "\r\n") != e.Body {
			t.Fatalf("received %+v, want %+v", got[0], e)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		m, inbox := newMailer(t)
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Go(func() {
				if err := m.Send(t.Context(), domain.Email{To: "u" + string(rune('a'+i)) + "@example.com", Subject: "s", Body: "b"}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got := waitMail(t, inbox, 5)
		var to []string
		for _, e := range got {
			to = append(to, e.To)
		}
		slices.Sort(to)
		if !slices.Equal(to, []string{"ua@example.com", "ub@example.com", "uc@example.com", "ud@example.com", "ue@example.com"}) {
			t.Fatalf("recipients %v", to)
		}
	})
	t.Run("Canceled", func(t *testing.T) {
		t.Parallel()
		m, inbox := newMailer(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := m.Send(ctx, domain.Email{To: "a@example.com", Subject: "s", Body: "b"}); err == nil {
			t.Fatal("Send with a canceled context succeeded")
		}
		if n := len(inbox()); n != 0 {
			t.Fatalf("%d messages arrived after a canceled send", n)
		}
	})
	t.Run("BadRecipient", func(t *testing.T) {
		t.Parallel()
		m, _ := newMailer(t)
		if err := m.Send(t.Context(), domain.Email{To: "not an address", Subject: "s", Body: "b"}); !errors.Is(err, domain.ErrInvalid) {
			t.Fatalf("bad recipient: %v, want ErrInvalid", err)
		}
	})
}

func waitMail(t *testing.T, inbox func() []domain.Email, n int) []domain.Email {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := inbox()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				t.Fatalf("%d messages arrived, want %d: %+v", len(got), n, got)
			}
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}
