package data

import (
	"context"

	"gorm.io/gorm"
)

type txKey struct{}

type txValue struct {
	owner Registry
	tx    *gorm.DB
}

// InTx runs fn in a transaction on r.DB(ctx) and carries it in the
// context fn receives, so that every r.DB(ctx) inside fn (repository code
// that knows nothing of transactions) joins it. It commits when fn returns
// nil and rolls back when fn returns an error or panics (the panic goes
// on after the rollback). A call inside another opens a savepoint, rolled
// back alone when the inner fn fails. The error is fn's, or the
// translated error of begin or commit (a serialization failure at commit
// is [ErrRetryable]).
func InTx(ctx context.Context, r Registry, fn func(ctx context.Context) error) error {
	db, err := r.DB(ctx)
	if err != nil {
		return err
	}
	return Translate(db.Transaction(func(tx *gorm.DB) error {
		return fn(context.WithValue(ctx, txKey{}, txValue{owner: r, tx: tx}))
	}))
}

// CurrentTx returns the transaction that [InTx] on r carries in ctx, bound
// to ctx, or nil. Registry implementations other than apex's call it
// first in their DB method.
func CurrentTx(ctx context.Context, r Registry) *gorm.DB {
	if v, ok := ctx.Value(txKey{}).(txValue); ok && v.owner == r {
		return v.tx.WithContext(ctx)
	}
	return nil
}

// Single returns a [Registry] serving db for every context: no named
// databases, no tenants. It suits tests and programs with one database.
// Registries of the same db are equal, so a transaction begun through one
// is joined through another.
func Single(db *gorm.DB) Registry { return single{db: db} }

type single struct{ db *gorm.DB }

var _ Registry = single{}

func (s single) Primary() *gorm.DB { return s.db }

func (s single) Named(name string) (*gorm.DB, error) {
	return nil, &NameError{Name: name}
}

func (s single) DB(ctx context.Context) (*gorm.DB, error) {
	if tx := CurrentTx(ctx, s); tx != nil {
		return tx, nil
	}
	return s.db.WithContext(ctx), nil
}

// NameError is returned by Registry.Named for an unknown name; it matches
// [ErrUnknownDatabase].
type NameError struct{ Name string }

func (e *NameError) Error() string        { return "data: unknown database " + e.Name }
func (e *NameError) Is(target error) bool { return target == ErrUnknownDatabase }
