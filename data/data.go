// Package data is apex's relational data access: gorm on Postgres or
// MySQL/MariaDB, with a pure-Go SQLite file as the fallback that needs
// nothing installed; named databases; one database (or schema) per tenant,
// opened lazily and kept in a bounded pool of pools; transactions carried
// in the context; driver errors translated to sentinel errors; versioned
// SQL migrations with goose.
//
// The two ports are [Registry] (which database serves this context) and
// [TenantResolver] (where a tenant's data lives). [Open] and [New]
// work without fx; [Module] wires them from the "data" config section.
package data

import (
	"context"
	"net/http"

	"gorm.io/gorm"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/httpx"
)

// Sentinel errors, for use with errors.Is. Every driver's native errors
// (pgx's *pgconn.PgError, MySQL error numbers, SQLite result codes,
// gorm.ErrRecordNotFound, sql.ErrNoRows) are translated into them by the
// databases that [Open] returns; the native error stays in the chain.
//
// Each also converts itself, with errors.As, to the [httpx.Problem] the
// HTTP edge answers: a stable status, code and generic detail, never the
// driver's text (which can name constraints and quote values); the
// statement's log line keeps those. A handler returns the error as is.
var (
	// ErrNotFound: the row asked for does not exist (gorm's First, Take,
	// Last). 404, code not_found.
	ErrNotFound error = &sentinel{"data: not found", http.StatusNotFound, httpx.CodeNotFound,
		"the resource does not exist"}
	// ErrConflict: a unique or primary-key constraint was violated. 409,
	// code conflict.
	ErrConflict error = &sentinel{"data: unique constraint violated", http.StatusConflict, httpx.CodeConflict,
		"the request conflicts with existing data: a value that must be unique is taken"}
	// ErrForeignKey: a foreign-key constraint was violated. 409, code
	// reference_conflict.
	ErrForeignKey error = &sentinel{"data: foreign key constraint violated", http.StatusConflict, CodeReferenceConflict,
		"the request refers to data that does not exist, or removes data that is still referred to"}
	// ErrRetryable: a serialization failure, deadlock or lock timeout;
	// running the whole transaction again may succeed. 503 with
	// Retry-After, code unavailable.
	ErrRetryable error = &sentinel{"data: transaction conflict, retry", http.StatusServiceUnavailable, httpx.CodeUnavailable,
		"a concurrent change conflicted with this request; retry it"}

	// ErrUnknownDatabase is returned by Registry.Named for a name not
	// configured under data.databases: a programming error (500).
	ErrUnknownDatabase error = &sentinel{msg: "data: unknown database"}
	// ErrUnknownTenant is returned by a TenantResolver for a tenant it does
	// not know, and by Registry.DB for a tenant whose database or schema
	// does not exist. 404, code tenant_unknown.
	ErrUnknownTenant error = &sentinel{"data: unknown tenant", http.StatusNotFound, httpx.CodeTenantUnknown,
		"unknown tenant"}
	// ErrNoTenant is returned by Registry.DB when tenancy is on and the
	// context carries no tenant (see app.WithTenant). 400, code
	// tenant_required.
	ErrNoTenant error = &sentinel{"data: no tenant in context", http.StatusBadRequest, CodeTenantRequired,
		"the request names no tenant"}
	// ErrInvalidTenant: a tenant ID that does not match [TenantIDPattern].
	// 400, code tenant_invalid.
	ErrInvalidTenant error = &sentinel{"data: invalid tenant ID", http.StatusBadRequest, CodeTenantInvalid,
		"not a valid tenant ID"}
	// ErrClosed is returned once the registry has stopped. 503 with
	// Retry-After, code unavailable.
	ErrClosed error = &sentinel{"data: registry closed", http.StatusServiceUnavailable, httpx.CodeUnavailable,
		"the database is shutting down; retry the request"}
)

// The [httpx.Problem] codes data answers with besides httpx's own
// (not_found, conflict, tenant_unknown, unavailable).
const (
	// CodeReferenceConflict: a foreign-key constraint was violated (409).
	CodeReferenceConflict = "reference_conflict"
	// CodeTenantRequired: tenancy is on and the request names no tenant
	// (400).
	CodeTenantRequired = "tenant_required"
	// CodeTenantInvalid: the tenant ID does not match [TenantIDPattern]
	// (400).
	CodeTenantInvalid = "tenant_invalid"
)

// sentinel is a sentinel error that knows the problem it answers.
type sentinel struct {
	msg    string
	status int // 0: none, a 500 at the edge
	code   string
	detail string
}

func (s *sentinel) Error() string { return s.msg }

// As sets a **httpx.Problem target to the sentinel's problem.
func (s *sentinel) As(target any) bool { return s.asProblem(target, s) }

func (s *sentinel) asProblem(target any, cause error) bool {
	pp, ok := target.(**httpx.Problem)
	if !ok || s.status == 0 {
		return false
	}
	p := httpx.NewProblem(s.status, s.detail)
	p.Code, p.Err = s.code, cause
	if s.status == http.StatusServiceUnavailable {
		p.Header = http.Header{"Retry-After": {"1"}}
	}
	*pp = p
	return true
}

// Registry hands out databases. Repository code calls DB(ctx) for every
// operation and so joins transactions and follows tenants without knowing
// about either. [Databases] implements it; [Single] wraps one *gorm.DB.
type Registry interface {
	// Primary returns the primary database (data.dsn), never nil once the
	// registry is open. Safe for concurrent use; valid until the registry
	// closes.
	Primary() *gorm.DB
	// Named returns the database configured under data.databases.<name>,
	// or an error wrapping [ErrUnknownDatabase]. Safe for concurrent use;
	// valid until the registry closes.
	Named(name string) (*gorm.DB, error)
	// DB returns the database that serves ctx, bound to ctx
	// (WithContext): the transaction that [InTx] carries in ctx if there
	// is one; else, with tenancy on, the database of the tenant in ctx
	// (app.Tenant), opened on first use, or an error wrapping
	// [ErrNoTenant], [ErrInvalidTenant], [ErrUnknownTenant], [ErrClosed]
	// or the resolver's failure; else the primary. It returns when ctx
	// ends even while a tenant's pool is being opened. Safe for concurrent
	// use. A tenant's *gorm.DB is valid until its pool is evicted and its
	// in-flight work is done: take it per operation (or [Pinner.Pin] it),
	// do not keep it.
	DB(ctx context.Context) (*gorm.DB, error)
}

// Pinner is the optional ability of a [Registry] to keep the pool of the
// tenant in ctx open until release is called: Registry.DB hands out
// tenant databases from a bounded set of pools, and a pool not pinned may
// be closed (least recently used, or idle) while a caller still holds its
// *gorm.DB. apex's tenancy middleware pins the request's tenant for the
// request; long work outside requests (a job) pins the same way:
//
//	if p, ok := reg.(data.Pinner); ok {
//		release, err := p.Pin(ctx)
//		if err != nil { return err }
//		defer release()
//	}
//
// With tenancy off, Pin does nothing.
type Pinner interface {
	// Pin opens the pool of the tenant in ctx if need be and keeps it
	// from eviction until release is called (release is idempotent). It
	// fails as Registry.DB does. Safe for concurrent use.
	Pin(ctx context.Context) (release func(), err error)
}

// TenantResolver says where a tenant's data lives. Users implement it (a
// control table, a secrets manager); [ConfigResolver] is the built-in one.
// datatest.RunResolver is its conformance suite.
//
// The registry calls Resolve once per pool it opens (concurrent first
// requests share one call), and not again for an ID found unknown less
// than data.tenancy.unknown_ttl ago, so Resolve may be slow. A resolver
// that knows its tenants should say "unknown" itself: that costs no
// connection. One that resolves any ID (a template) leaves it to the
// registry, which asks the server's catalog when the tenant is on the
// primary's server and connects otherwise, at most
// data.tenancy.max_opening at once.
type TenantResolver interface {
	// Resolve returns the connection settings of tenant id, an error
	// wrapping [ErrUnknownTenant] when there is no such tenant, or any
	// other error when it cannot tell (a control database down: the
	// middleware answers 503). id has been checked against
	// [TenantIDPattern]. It must honour ctx and be safe for concurrent
	// use.
	Resolve(ctx context.Context, id string) (TenantDB, error)
}

// TenantDB is where one tenant's data lives.
type TenantDB struct {
	// Driver is postgres, mysql or sqlite; "" picks by DSN as data.driver
	// auto does.
	Driver string
	// DSN opens the tenant's database.
	DSN app.Secret
	// Schema, on Postgres, puts the tenant in this schema of the database
	// at DSN: the tenant's pool (one per tenant, counted against
	// data.tenancy.max_open) connects with search_path set to the schema,
	// quoted, so every statement — gorm models, TableName, db.Table, raw
	// SQL — runs in it. The name is used as is (case kept), at most 63
	// bytes. Empty: the DSN's database. Postgres only.
	Schema string
	// Pool overrides data.tenancy.pool for this tenant when non-zero.
	Pool *PoolConfig
}

// ResolverFunc adapts a function to a [TenantResolver].
type ResolverFunc func(ctx context.Context, id string) (TenantDB, error)

// Resolve implements TenantResolver.
func (f ResolverFunc) Resolve(ctx context.Context, id string) (TenantDB, error) { return f(ctx, id) }
