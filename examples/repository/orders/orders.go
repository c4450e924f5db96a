// Package orders is the domain of the repository example: the Order
// entity, the Repository port it needs from storage, and the Service with
// the business rules. It imports neither gorm nor apex: adapters
// (gormrepo, memrepo) depend on it, never the other way round.
package orders

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Order is one customer order.
type Order struct {
	ID         string    `json:"id"`
	Reference  string    `json:"reference"`
	Customer   string    `json:"customer"`
	TotalCents int64     `json:"total_cents"`
	CreatedAt  time.Time `json:"created_at"`
}

// Domain errors, for use with errors.Is.
var (
	ErrNotFound  = errors.New("order not found")
	ErrDuplicate = errors.New("order reference already used")
	ErrInvalid   = errors.New("invalid order")
)

// Repository stores orders.
//
// Create stores o; an order with the same Reference is ErrDuplicate. Get
// returns the order with that ID or ErrNotFound. ByCustomer lists a
// customer's orders, oldest first. Methods called with the context that a
// Transactor hands to its function take part in that transaction.
type Repository interface {
	Create(ctx context.Context, o Order) error
	Get(ctx context.Context, id string) (Order, error)
	ByCustomer(ctx context.Context, customer string) ([]Order, error)
}

// Transactor runs fn atomically: everything fn does through a Repository
// with fn's context commits together or not at all.
type Transactor func(ctx context.Context, fn func(ctx context.Context) error) error

// PlaceParams are what a customer submits.
type PlaceParams struct {
	Reference  string `json:"reference" validate:"required,max=64"`
	Customer   string `json:"customer" validate:"required,max=100"`
	TotalCents int64  `json:"total_cents" validate:"gte=0"`
}

// Service holds the business rules.
type Service struct {
	repo Repository
	tx   Transactor
	now  func() time.Time
}

// NewService returns a service storing orders in repo.
func NewService(repo Repository, tx Transactor) *Service {
	return &Service{repo: repo, tx: tx, now: time.Now}
}

// Place stores a new order.
func (s *Service) Place(ctx context.Context, p PlaceParams) (Order, error) {
	if p.TotalCents > 1_000_000_00 {
		return Order{}, fmt.Errorf("%w: total above the limit of 1,000,000.00", ErrInvalid)
	}
	o := Order{ID: newID(), Reference: p.Reference, Customer: p.Customer, TotalCents: p.TotalCents, CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	if err := s.repo.Create(ctx, o); err != nil {
		return Order{}, err
	}
	return o, nil
}

// PlaceAll stores every order or, if one fails, none.
func (s *Service) PlaceAll(ctx context.Context, ps []PlaceParams) ([]Order, error) {
	var out []Order
	err := s.tx(ctx, func(ctx context.Context) error {
		out = out[:0]
		for _, p := range ps {
			o, err := s.Place(ctx, p)
			if err != nil {
				return fmt.Errorf("order %s: %w", p.Reference, err)
			}
			out = append(out, o)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Get returns one order.
func (s *Service) Get(ctx context.Context, id string) (Order, error) { return s.repo.Get(ctx, id) }

// ByCustomer lists a customer's orders.
func (s *Service) ByCustomer(ctx context.Context, customer string) ([]Order, error) {
	return s.repo.ByCustomer(ctx, customer)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
