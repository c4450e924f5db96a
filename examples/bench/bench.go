// Package bench holds apex's performance measurements (see
// docs/performance.md). It is a module of its own so that what only the
// measurements need never enters apex's go.mod.
//
// It serves the GET /items/:id handler of examples/minimal two ways: on
// apex with its full default middleware stack ([StartApex]) and on a bare
// echo instance with no middleware at all ([Bare]). examples/minimal is
// package main and cannot be imported, so its handler and in-memory store
// are replicated here.
package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/httpx"
)

// ErrNotFound is returned for an unknown item, as in examples/minimal.
var ErrNotFound = errors.New("item not found")

// Item is what the store holds, as in examples/minimal.
type Item struct {
	ID         int    `json:"id"`
	Name       string `json:"name" validate:"required,max=100"`
	PriceCents int    `json:"price_cents" validate:"gte=0"`
}

// Store keeps items in memory, as in examples/minimal.
type Store struct {
	mu    sync.RWMutex
	items map[int]Item
	next  int
}

// NewStore returns a store holding one item, ID 1, so that GET /items/1
// answers 200.
func NewStore() *Store {
	s := &Store{items: map[int]Item{}}
	s.next = 1
	s.items[1] = Item{ID: 1, Name: "lamp", PriceCents: 1999}
	return s
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

// GetItem is examples/minimal's GET /items/:id handler.
func GetItem(s *Store) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := strconv.Atoi(c.Param("id"))
		if err != nil {
			return httpx.NewProblem(http.StatusBadRequest, "id must be a number")
		}
		it, err := s.Get(id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, it)
	}
}

// Path is the request both stacks are measured with.
const Path = "/items/1"

// Bare returns echo.New() serving GetItem at /items/:id, with no middleware.
func Bare(s *Store) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/items/:id", GetItem(s))
	return e
}

// Serve serves h on a new listener on an ephemeral loopback port with a
// plain http.Server and returns its address and a stop function.
func Serve(h http.Handler) (addr string, stop func(context.Context) error, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return ln.Addr().String(), func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		<-done
		return err
	}, nil
}

// ApexOverrides are the config keys the apex stack is measured with: an
// ephemeral loopback port and the production JSON access log at info
// level written to /dev/null, so that encoding every line is measured but
// no terminal or disk is.
func ApexOverrides() map[string]any {
	return map[string]any{
		"http.addr":          "127.0.0.1:0",
		"observe.log.output": "/dev/null",
		"observe.log.format": "json",
		"observe.log.level":  "info",
		"data.dsn":           "sqlite::memory:",
		"auth.secret":        "bench-only-secret-bench-only-secret-0123",
	}
}

// Apex is a started apex app serving GetItem at /items/:id behind the
// full default middleware stack.
type Apex struct {
	App *fx.App
	// Echo is the app's router, which is its http.Handler.
	Echo *echo.Echo
	// Addr is the bound loopback address.
	Addr string
}

// DiscardExporter is a span exporter that drops every batch it is given:
// spans are made, sampled, queued and batched as in production, and only
// the network is left out.
type DiscardExporter struct{}

// ExportSpans drops spans.
func (DiscardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }

// Shutdown does nothing.
func (DiscardExporter) Shutdown(context.Context) error { return nil }

// WithRecordingTracer replaces the app's no-op tracer provider by an SDK
// provider that samples every span (AlwaysSample) and feeds a
// BatchSpanProcessor (default options) exporting to [DiscardExporter]:
// apex with tracing on, as a production service runs it, minus the
// collector.
func WithRecordingTracer() fx.Option {
	return fx.Decorate(func(lc fx.Lifecycle) trace.TracerProvider {
		tp := sdktrace.NewTracerProvider(
			sdktrace.WithSampler(sdktrace.AlwaysSample()),
			sdktrace.WithBatcher(DiscardExporter{}),
		)
		lc.Append(fx.StopHook(tp.Shutdown))
		return tp
	})
}

// StartApex starts apex.Modules plus the item route, in the production
// environment, with ApexOverrides and then extra applied, and opts (such
// as [WithRecordingTracer]) added; no process environment, .env or config
// directory is read.
func StartApex(ctx context.Context, extra map[string]any, opts ...fx.Option) (*Apex, error) {
	overrides := ApexOverrides()
	for k, v := range extra {
		overrides[k] = v
	}
	var srv *httpx.Server
	a := fx.New(
		fx.Options(apex.Modules...),
		fx.Supply(&app.LoadParams{DotEnv: "-", Environ: []string{}, Env: app.Production, Overrides: overrides}),
		fx.Supply(NewStore()),
		fx.Provide(httpx.AsGroup(func(s *Store) httpx.Group {
			return httpx.Group{Prefix: "/items", Routes: []httpx.Route{
				{Method: http.MethodGet, Path: "/:id", Handler: GetItem(s)},
			}}
		})),
		httpx.MapError(ErrNotFound, http.StatusNotFound),
		fx.Populate(&srv),
		fx.Options(opts...),
	)
	if err := a.Err(); err != nil {
		return nil, err
	}
	if err := a.Start(ctx); err != nil {
		return nil, err
	}
	return &Apex{App: a, Echo: srv.Echo, Addr: srv.Addr().String()}, nil
}

// Stop stops the app.
func (a *Apex) Stop(ctx context.Context) error { return a.App.Stop(ctx) }
