// Package orderstest is the contract of orders.Repository: one suite that
// the gorm adapter (on every database) and the in-memory adapter both
// pass, so that unit tests on memrepo mean something for production.
package orderstest

import (
	"context"
	"errors"
	"testing"

	"github.com/apexgo/apex/examples/repository/orders"
)

// Run checks a repository and its transactor; newRepo returns an empty one.
func Run(t *testing.T, newRepo func(t *testing.T) (orders.Repository, orders.Transactor)) {
	ctx := context.Background()
	t.Run("PlaceAndGet", func(t *testing.T) {
		t.Parallel()
		svc := orders.NewService(newRepo(t))
		o, err := svc.Place(ctx, orders.PlaceParams{Reference: "r1", Customer: "ann", TotalCents: 1999})
		if err != nil {
			t.Fatal(err)
		}
		got, err := svc.Get(ctx, o.ID)
		if err != nil || got != o {
			t.Fatalf("get = %+v, %v; want %+v", got, err, o)
		}
		if _, err := svc.Get(ctx, "nope"); !errors.Is(err, orders.ErrNotFound) {
			t.Fatalf("missing: %v", err)
		}
	})
	t.Run("Duplicate", func(t *testing.T) {
		t.Parallel()
		svc := orders.NewService(newRepo(t))
		if _, err := svc.Place(ctx, orders.PlaceParams{Reference: "r1", Customer: "ann"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Place(ctx, orders.PlaceParams{Reference: "r1", Customer: "bob"}); !errors.Is(err, orders.ErrDuplicate) {
			t.Fatalf("duplicate: %v", err)
		}
	})
	t.Run("ByCustomer", func(t *testing.T) {
		t.Parallel()
		svc := orders.NewService(newRepo(t))
		for _, ref := range []string{"a", "b", "c"} {
			if _, err := svc.Place(ctx, orders.PlaceParams{Reference: ref, Customer: "ann"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.Place(ctx, orders.PlaceParams{Reference: "d", Customer: "bob"}); err != nil {
			t.Fatal(err)
		}
		list, err := svc.ByCustomer(ctx, "ann")
		if err != nil || len(list) != 3 {
			t.Fatalf("ann has %d orders, %v", len(list), err)
		}
		if list, _ := svc.ByCustomer(ctx, "nobody"); len(list) != 0 {
			t.Fatalf("nobody has %d", len(list))
		}
	})
	t.Run("AllOrNothing", func(t *testing.T) {
		t.Parallel()
		svc := orders.NewService(newRepo(t))
		if _, err := svc.Place(ctx, orders.PlaceParams{Reference: "taken", Customer: "zed"}); err != nil {
			t.Fatal(err)
		}
		_, err := svc.PlaceAll(ctx, []orders.PlaceParams{
			{Reference: "x1", Customer: "cat"}, {Reference: "x2", Customer: "cat"}, {Reference: "taken", Customer: "cat"},
		})
		if !errors.Is(err, orders.ErrDuplicate) {
			t.Fatalf("batch with a duplicate: %v", err)
		}
		if list, _ := svc.ByCustomer(ctx, "cat"); len(list) != 0 {
			t.Fatalf("a failed batch left %d orders", len(list))
		}
		placed, err := svc.PlaceAll(ctx, []orders.PlaceParams{{Reference: "y1", Customer: "cat"}, {Reference: "y2", Customer: "cat"}})
		if err != nil || len(placed) != 2 {
			t.Fatalf("batch: %d, %v", len(placed), err)
		}
	})
}
