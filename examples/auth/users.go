package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// User is an account. apex does not own the user table: this example
// keeps its own.
type User struct {
	ID           string
	Email        string
	PasswordHash string
	Roles        []string
	CreatedAt    time.Time
}

// Errors of [Users], for use with errors.Is.
var (
	// ErrDuplicate is returned by Create for an email already registered;
	// it maps to a 409 problem.
	ErrDuplicate = errors.New("this email is already registered")
	// ErrNoUser is returned for an unknown email or ID.
	ErrNoUser = errors.New("no such user")
	// ErrFull is returned by the memory store at its capacity; it maps to 507.
	ErrFull = errors.New("the user store is full")
)

// Users stores accounts. Emails are compared lower-cased. Create returns
// ErrDuplicate for a taken email; ByEmail and ByID return ErrNoUser;
// SetPasswordHash replaces a hash (after a parameter change). Safe for
// concurrent use.
type Users interface {
	Create(ctx context.Context, u User) error
	ByEmail(ctx context.Context, email string) (User, error)
	ByID(ctx context.Context, id string) (User, error)
	SetPasswordHash(ctx context.Context, id, hash string) error
}

// MemoryUsers is [Users] in process memory, bounded: the embedded
// default. Accounts vanish with the process.
type MemoryUsers struct {
	mu      sync.RWMutex
	byID    map[string]User
	byEmail map[string]string
	max     int
}

var _ Users = (*MemoryUsers)(nil)

// NewMemoryUsers returns an empty store of at most max users.
func NewMemoryUsers(max int) *MemoryUsers {
	return &MemoryUsers{byID: map[string]User{}, byEmail: map[string]string{}, max: max}
}

// Create implements [Users].
func (m *MemoryUsers) Create(_ context.Context, u User) error {
	email := strings.ToLower(u.Email)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.byEmail[email]; ok {
		return ErrDuplicate
	}
	if len(m.byID) >= m.max {
		return ErrFull
	}
	u.Roles = append([]string(nil), u.Roles...)
	m.byID[u.ID], m.byEmail[email] = u, u.ID
	return nil
}

// ByEmail implements [Users].
func (m *MemoryUsers) ByEmail(ctx context.Context, email string) (User, error) {
	m.mu.RLock()
	id, ok := m.byEmail[strings.ToLower(email)]
	m.mu.RUnlock()
	if !ok {
		return User{}, ErrNoUser
	}
	return m.ByID(ctx, id)
}

// ByID implements [Users].
func (m *MemoryUsers) ByID(_ context.Context, id string) (User, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	u, ok := m.byID[id]
	if !ok {
		return User{}, fmt.Errorf("user %q: %w", id, ErrNoUser)
	}
	u.Roles = append([]string(nil), u.Roles...)
	return u, nil
}

// SetPasswordHash implements [Users].
func (m *MemoryUsers) SetPasswordHash(_ context.Context, id, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.byID[id]
	if !ok {
		return ErrNoUser
	}
	u.PasswordHash = hash
	m.byID[id] = u
	return nil
}
