package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"github.com/apexgo/apex/data"
)

// User is an account. apex does not own the user table: this example
// keeps its own.
type User struct {
	ID           string
	Email        string
	PasswordHash string
	Roles        []string
	CreatedAt    time.Time
	// PasswordChangedAt is when the user last changed the password.
	PasswordChangedAt time.Time
	// SessionGeneration counts password changes. Every session carries
	// the generation it was issued for; one of an older generation ends
	// at its next refresh. A counter, not a time: compared with
	// PasswordChangedAt, a session's start would misfire where the
	// database rounds times (MySQL's TIMESTAMP keeps whole seconds).
	SessionGeneration int64
}

// Errors of [Users], for use with errors.Is.
var (
	// ErrDuplicate is returned by Create for an email already registered;
	// it maps to a 409 problem.
	ErrDuplicate = errors.New("this email is already registered")
	// ErrNoUser is returned for an unknown email or ID.
	ErrNoUser = errors.New("no such user")
)

// Users stores accounts. Emails are compared lower-cased. Create returns
// ErrDuplicate for a taken email; ByEmail and ByID return ErrNoUser;
// SetPasswordHash replaces a hash, and with changedAt non-zero records a
// password change, incrementing SessionGeneration (zero: the same
// password rehashed with new parameters).
// Safe for concurrent use.
type Users interface {
	Create(ctx context.Context, u User) error
	ByEmail(ctx context.Context, email string) (User, error)
	ByID(ctx context.Context, id string) (User, error)
	SetPasswordHash(ctx context.Context, id, hash string, changedAt time.Time) error
}

// DBUsers is [Users] in the users table of the data module's database
// (SQLite on the embedded defaults, Postgres or MySQL by data.dsn). It
// asks the registry for the database per operation, so it joins a
// transaction carried in ctx and follows tenants when tenancy is on.
type DBUsers struct {
	reg data.Registry
}

var _ Users = (*DBUsers)(nil)

// NewDBUsers returns the store on reg.
func NewDBUsers(reg data.Registry) *DBUsers { return &DBUsers{reg: reg} }

// userRow is the users table (migrations/).
type userRow struct {
	ID                string `gorm:"primaryKey"`
	Email             string
	PasswordHash      string
	Roles             string // comma-separated
	CreatedAt         time.Time
	PasswordChangedAt *time.Time
	SessionGeneration int64
}

func (userRow) TableName() string { return "users" }

func (r userRow) user() User {
	u := User{ID: r.ID, Email: r.Email, PasswordHash: r.PasswordHash, CreatedAt: r.CreatedAt, SessionGeneration: r.SessionGeneration}
	if r.PasswordChangedAt != nil {
		u.PasswordChangedAt = *r.PasswordChangedAt
	}
	if r.Roles != "" {
		u.Roles = strings.Split(r.Roles, ",")
	}
	return u
}

// Create implements [Users].
func (s *DBUsers) Create(ctx context.Context, u User) error {
	db, err := s.reg.DB(ctx)
	if err != nil {
		return err
	}
	row := userRow{ID: u.ID, Email: strings.ToLower(u.Email), PasswordHash: u.PasswordHash, Roles: strings.Join(u.Roles, ","), CreatedAt: u.CreatedAt}
	if err := db.Create(&row).Error; err != nil {
		if errors.Is(err, data.ErrConflict) {
			return ErrDuplicate
		}
		return err
	}
	return nil
}

func (s *DBUsers) find(ctx context.Context, where string, arg string) (User, error) {
	db, err := s.reg.DB(ctx)
	if err != nil {
		return User{}, err
	}
	var row userRow
	if err := db.Where(where, arg).Take(&row).Error; err != nil {
		if errors.Is(err, data.ErrNotFound) {
			return User{}, ErrNoUser
		}
		return User{}, err
	}
	return row.user(), nil
}

// ByEmail implements [Users].
func (s *DBUsers) ByEmail(ctx context.Context, email string) (User, error) {
	return s.find(ctx, "email = ?", strings.ToLower(email))
}

// ByID implements [Users].
func (s *DBUsers) ByID(ctx context.Context, id string) (User, error) {
	return s.find(ctx, "id = ?", id)
}

// SetPasswordHash implements [Users].
func (s *DBUsers) SetPasswordHash(ctx context.Context, id, hash string, changedAt time.Time) error {
	db, err := s.reg.DB(ctx)
	if err != nil {
		return err
	}
	cols := map[string]any{"password_hash": hash}
	if !changedAt.IsZero() {
		cols["password_changed_at"] = changedAt
		cols["session_generation"] = gorm.Expr("session_generation + 1")
	}
	res := db.Model(&userRow{}).Where("id = ?", id).Updates(cols)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNoUser
	}
	return nil
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate applies the example's migrations to the primary database at
// start, after the data module has connected (its start hook was
// registered first). Instances starting together apply each migration
// once: the migrator holds a database lock.
func migrate(lc fx.Lifecycle, reg data.Registry, log *zap.Logger) error {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	lc.Append(fx.StartHook(func(ctx context.Context) error {
		m, err := data.NewMigrator(reg.Primary(), fsys, data.MigratorParams{Table: "accounts_db_version", Log: log})
		if err != nil {
			return fmt.Errorf("accounts: migrations: %w", err)
		}
		defer m.Close()
		if _, err := m.Up(ctx); err != nil {
			return fmt.Errorf("accounts: migrations: %w", err)
		}
		return nil
	}))
	return nil
}
