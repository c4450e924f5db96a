// Package gormrepo is the gorm adapter of orders.Repository: it asks the
// data.Registry for the context's database on every call, so it joins
// transactions and follows tenants without knowing about either, and it
// turns data's sentinel errors into the domain's.
package gormrepo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/examples/repository/orders"
)

// Repo stores orders with gorm.
type Repo struct{ reg data.Registry }

var _ orders.Repository = (*Repo)(nil)

// New returns a repository on reg.
func New(reg data.Registry) *Repo { return &Repo{reg: reg} }

// Transactor runs functions in a data.InTx transaction on reg.
func Transactor(reg data.Registry) orders.Transactor {
	return func(ctx context.Context, fn func(ctx context.Context) error) error { return data.InTx(ctx, reg, fn) }
}

// row is the table's shape; the domain type stays free of tags.
type row struct {
	ID         string `gorm:"primaryKey"`
	Reference  string
	Customer   string
	TotalCents int64
	// CreatedAt is Unix milliseconds: the same column type on Postgres,
	// MySQL and SQLite, so one migration serves all three.
	CreatedAt int64 `gorm:"autoCreateTime:false"`
}

func (row) TableName() string { return "orders" }

// Create implements orders.Repository.
func (r *Repo) Create(ctx context.Context, o orders.Order) error {
	db, err := r.reg.DB(ctx)
	if err != nil {
		return err
	}
	err = db.Create(&row{ID: o.ID, Reference: o.Reference, Customer: o.Customer, TotalCents: o.TotalCents, CreatedAt: o.CreatedAt.UnixMilli()}).Error
	if errors.Is(err, data.ErrConflict) {
		return fmt.Errorf("%w: %s", orders.ErrDuplicate, o.Reference)
	}
	return err
}

// Get implements orders.Repository.
func (r *Repo) Get(ctx context.Context, id string) (orders.Order, error) {
	db, err := r.reg.DB(ctx)
	if err != nil {
		return orders.Order{}, err
	}
	var w row
	if err := db.Where("id = ?", id).Take(&w).Error; err != nil {
		if errors.Is(err, data.ErrNotFound) {
			return orders.Order{}, fmt.Errorf("%w: %s", orders.ErrNotFound, id)
		}
		return orders.Order{}, err
	}
	return w.order(), nil
}

// ByCustomer implements orders.Repository.
func (r *Repo) ByCustomer(ctx context.Context, customer string) ([]orders.Order, error) {
	db, err := r.reg.DB(ctx)
	if err != nil {
		return nil, err
	}
	var rows []row
	if err := db.Where("customer = ?", customer).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]orders.Order, len(rows))
	for i, w := range rows {
		out[i] = w.order()
	}
	return out, nil
}

func (w row) order() orders.Order {
	return orders.Order{ID: w.ID, Reference: w.Reference, Customer: w.Customer, TotalCents: w.TotalCents, CreatedAt: time.UnixMilli(w.CreatedAt).UTC()}
}
