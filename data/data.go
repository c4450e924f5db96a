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
	"errors"

	"gorm.io/gorm"

	"github.com/apexgo/apex/app"
)

// Sentinel errors, for use with errors.Is. Every driver's native errors
// (pgx's *pgconn.PgError, MySQL error numbers, SQLite result codes,
// gorm.ErrRecordNotFound, sql.ErrNoRows) are translated into them by the databases that
// [Open] returns; the native error stays in the chain.
var (
	// ErrNotFound: the row asked for does not exist (gorm's First, Take,
	// Last). An HTTP handler returning it answers 404.
	ErrNotFound = errors.New("data: not found")
	// ErrConflict: a unique or primary-key constraint was violated. 409.
	ErrConflict = errors.New("data: unique constraint violated")
	// ErrForeignKey: a foreign-key constraint was violated. 409.
	ErrForeignKey = errors.New("data: foreign key constraint violated")
	// ErrRetryable: a serialization failure, deadlock or lock timeout;
	// running the whole transaction again may succeed. 503.
	ErrRetryable = errors.New("data: transaction conflict, retry")

	// ErrUnknownDatabase is returned by Registry.Named for a name not
	// configured under data.databases.
	ErrUnknownDatabase = errors.New("data: unknown database")
	// ErrUnknownTenant is returned by a TenantResolver for a tenant it does
	// not know. The tenancy middleware answers 404.
	ErrUnknownTenant = errors.New("data: unknown tenant")
	// ErrNoTenant is returned by Registry.DB when tenancy is on and the
	// context carries no tenant (see app.WithTenant). The middleware
	// answers 400.
	ErrNoTenant = errors.New("data: no tenant in context")
	// ErrInvalidTenant: a tenant ID that does not match [TenantIDPattern].
	ErrInvalidTenant = errors.New("data: invalid tenant ID")
	// ErrClosed is returned once the registry has stopped.
	ErrClosed = errors.New("data: registry closed")
)

// Registry hands out databases.
//
// Primary returns the primary database (data.dsn), never nil once the
// registry is open. Named returns the database configured under
// data.databases.<name>, or an error wrapping [ErrUnknownDatabase].
//
// DB returns the database that serves ctx, bound to ctx (WithContext):
// the transaction that [InTx] carries in ctx if there is one; else, with
// tenancy on, the database of the tenant in ctx (app.Tenant), opened on
// first use, or an error wrapping [ErrNoTenant], [ErrUnknownTenant] or the
// resolver's failure; else the primary. Repository code calls DB(ctx) for
// every operation and so joins transactions and follows tenants without
// knowing about either.
//
// Implementations are safe for concurrent use. A *gorm.DB returned is
// valid until the registry closes (a tenant's, until it is evicted and its
// in-flight work is done): take it per operation, do not keep it.
type Registry interface {
	Primary() *gorm.DB
	Named(name string) (*gorm.DB, error)
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
	Pin(ctx context.Context) (release func(), err error)
}

// TenantResolver says where a tenant's data lives.
//
// Resolve returns the connection settings of tenant id, an error wrapping
// [ErrUnknownTenant] when there is no such tenant, or any other error when
// it cannot tell (a control database down: the middleware answers 503).
// id has already been checked against [TenantIDPattern]. The registry
// calls Resolve once per pool it opens (concurrent first requests share
// one call), and not again for an ID found unknown less than
// data.tenancy.unknown_ttl ago, so Resolve may be slow (a query, a secrets manager); it must
// honour ctx and be safe for concurrent use.
type TenantResolver interface {
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
