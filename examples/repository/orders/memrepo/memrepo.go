// Package memrepo is the in-memory adapter of orders.Repository, for unit
// tests of code above the port: the same behaviour as gormrepo (the
// orderstest suite checks both), no database.
package memrepo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/apexgo/apex/examples/repository/orders"
)

// Repo stores orders in a map.
type Repo struct {
	mu   sync.Mutex
	byID map[string]orders.Order
	tx   sync.Mutex // one transaction at a time
}

var _ orders.Repository = (*Repo)(nil)

// New returns an empty repository.
func New() *Repo { return &Repo{byID: map[string]orders.Order{}} }

type txKey struct{}

// Transactor runs fn with all-or-nothing semantics: on error the
// repository goes back to its state before fn. Transactions run one at a
// time; a nested call joins the outer one.
func (r *Repo) Transactor() orders.Transactor {
	return func(ctx context.Context, fn func(ctx context.Context) error) error {
		if ctx.Value(txKey{}) != nil {
			return fn(ctx)
		}
		r.tx.Lock()
		defer r.tx.Unlock()
		r.mu.Lock()
		snapshot := make(map[string]orders.Order, len(r.byID))
		for k, v := range r.byID {
			snapshot[k] = v
		}
		r.mu.Unlock()
		ok := false
		defer func() {
			if !ok {
				r.mu.Lock()
				r.byID = snapshot
				r.mu.Unlock()
			}
		}()
		if err := fn(context.WithValue(ctx, txKey{}, true)); err != nil {
			return err
		}
		ok = true
		return nil
	}
}

// Create implements orders.Repository.
func (r *Repo) Create(_ context.Context, o orders.Order) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.byID {
		if x.Reference == o.Reference {
			return fmt.Errorf("%w: %s", orders.ErrDuplicate, o.Reference)
		}
	}
	r.byID[o.ID] = o
	return nil
}

// Get implements orders.Repository.
func (r *Repo) Get(_ context.Context, id string) (orders.Order, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.byID[id]
	if !ok {
		return orders.Order{}, fmt.Errorf("%w: %s", orders.ErrNotFound, id)
	}
	return o, nil
}

// ByCustomer implements orders.Repository.
func (r *Repo) ByCustomer(_ context.Context, customer string) ([]orders.Order, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []orders.Order{}
	for _, o := range r.byID {
		if o.Customer == customer {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b orders.Order) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}
