package data

import (
	"context"
	"fmt"
	"reflect"

	"gorm.io/gorm"

	"github.com/apexgo/apex/app"
)

type txKey struct{}

type txValue struct {
	owner  Registry
	tenant string // the tenant the transaction was begun for, "" for none
	tx     *gorm.DB
}

// InTx runs fn in a transaction on r.DB(ctx) and carries it in the
// context fn receives, so that every r.DB(ctx) inside fn (repository code
// that knows nothing of transactions) joins it. It commits when fn returns
// nil and rolls back when fn returns an error or panics (the panic goes
// on after the rollback). A call inside another opens a savepoint, rolled
// back alone when the inner fn fails. The transaction belongs to the
// tenant of ctx (app.Tenant): a context inside fn switched to another
// tenant gets that tenant's database, outside the transaction. The error
// is fn's, or the translated error of begin or commit (a serialization
// failure at commit is [ErrRetryable]). r must be comparable (a pointer,
// or a struct of comparable fields), since the transaction is found again
// by comparing registries; InTx returns an error without calling fn
// otherwise.
func InTx(ctx context.Context, r Registry, fn func(ctx context.Context) error) error {
	if !isComparable(r) {
		return fmt.Errorf("data: InTx: registry type %T is not comparable (use a pointer)", r)
	}
	db, err := r.DB(ctx)
	if err != nil {
		return err
	}
	tenant, _ := app.Tenant(ctx)
	return Translate(db.Transaction(func(tx *gorm.DB) error {
		return fn(context.WithValue(ctx, txKey{}, txValue{owner: r, tenant: tenant, tx: tx}))
	}))
}

// CurrentTx returns the transaction that [InTx] on r carries in ctx, bound
// to ctx, or nil: nil too when ctx's tenant is not the one the
// transaction was begun for. Registry implementations other than apex's
// call it first in their DB method.
func CurrentTx(ctx context.Context, r Registry) *gorm.DB { return currentTx(ctx, r, true) }

func currentTx(ctx context.Context, r Registry, sameTenant bool) *gorm.DB {
	v, ok := ctx.Value(txKey{}).(txValue)
	if !ok || !isComparable(r) || v.owner != r {
		return nil
	}
	if tenant, _ := app.Tenant(ctx); sameTenant && tenant != v.tenant {
		return nil
	}
	return v.tx.WithContext(ctx)
}

// isComparable reports whether == on r cannot panic.
func isComparable(r Registry) bool {
	return r != nil && reflect.ValueOf(r).Comparable()
}

// Single returns a [Registry] serving db for every context: no named
// databases, no tenants. It suits tests and programs with one database.
// Registries of the same db are equal, so a transaction begun through one
// is joined through another; tenants do not matter to it, so a context
// switched to another tenant inside [InTx] still joins the transaction.
func Single(db *gorm.DB) Registry { return single{db: db} }

type single struct{ db *gorm.DB }

var _ Registry = single{}

func (s single) Primary() *gorm.DB { return s.db }

func (s single) Named(name string) (*gorm.DB, error) {
	return nil, &NameError{Name: name}
}

func (s single) DB(ctx context.Context) (*gorm.DB, error) {
	if tx := currentTx(ctx, s, false); tx != nil {
		return tx, nil
	}
	return s.db.WithContext(ctx), nil
}

// NameError is returned by Registry.Named for an unknown name; it matches
// [ErrUnknownDatabase].
type NameError struct {
	// Name is the name asked for.
	Name string
}

// Error names the database asked for.
func (e *NameError) Error() string { return "data: unknown database " + e.Name }

// Is matches [ErrUnknownDatabase].
func (e *NameError) Is(target error) bool { return target == ErrUnknownDatabase }
