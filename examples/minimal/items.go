package main

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/httpx"
)

// Config is this example's own config section, "minimal".
type Config struct {
	// PanicRoute adds GET /panic, which panics on purpose
	// (APP_MINIMAL__PANIC_ROUTE=true).
	PanicRoute bool `koanf:"panic_route"`
	// MaxItems bounds the in-memory store. Default 10000.
	MaxItems int `koanf:"max_items" validate:"min=1"`
}

// ErrNotFound is returned for an unknown item; it maps to a 404 problem.
var ErrNotFound = errors.New("item not found")

// ErrFull is returned when the store holds MaxItems; it maps to 507.
var ErrFull = errors.New("item store is full")

// Item is what the API stores.
type Item struct {
	ID         int    `json:"id"`
	Name       string `json:"name" validate:"required,max=100"`
	PriceCents int    `json:"price_cents" validate:"gte=0"`
}

// Store keeps items in memory, bounded.
type Store struct {
	mu    sync.RWMutex
	items map[int]Item
	next  int
	max   int
}

// NewStore returns an empty store.
func NewStore(cfg Config) *Store { return &Store{items: map[int]Item{}, max: cfg.MaxItems} }

// Add stores an item and returns it with its ID.
func (s *Store) Add(it Item) (Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.items) >= s.max {
		return Item{}, ErrFull
	}
	s.next++
	it.ID = s.next
	s.items[it.ID] = it
	return it, nil
}

// Get returns an item or ErrNotFound.
func (s *Store) Get(id int) (Item, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	it, ok := s.items[id]
	if !ok {
		return Item{}, fmt.Errorf("item %d: %w", id, ErrNotFound)
	}
	return it, nil
}

func itemRoutes(s *Store, cfg Config) httpx.Group {
	g := httpx.Group{Prefix: "/items", Routes: []httpx.Route{
		{Method: http.MethodPost, Path: "", Handler: func(c echo.Context) error {
			var in Item
			if err := httpx.Bind(c, &in); err != nil {
				return err
			}
			out, err := s.Add(in)
			if err != nil {
				return err
			}
			return c.JSON(http.StatusCreated, out)
		}},
		{Method: http.MethodGet, Path: "/:id", Handler: func(c echo.Context) error {
			id, err := strconv.Atoi(c.Param("id"))
			if err != nil {
				return httpx.NewProblem(http.StatusBadRequest, "id must be a number")
			}
			it, err := s.Get(id)
			if err != nil {
				return err
			}
			return c.JSON(http.StatusOK, it)
		}},
	}}
	return g
}

func panicRoute(cfg Config) httpx.Group {
	if !cfg.PanicRoute {
		return httpx.Group{}
	}
	return httpx.Group{Routes: []httpx.Route{{Method: http.MethodGet, Path: "/panic", Handler: func(c echo.Context) error {
		panic("minimal: /panic was called")
	}}}}
}

var itemsModule = fx.Module("minimal",
	app.ProvideSection("minimal", func() Config { return Config{MaxItems: 10000} }),
	fx.Provide(NewStore, httpx.AsGroup(itemRoutes), httpx.AsGroup(panicRoute)),
	httpx.MapError(ErrNotFound, http.StatusNotFound),
	httpx.MapError(ErrFull, http.StatusInsufficientStorage),
)
