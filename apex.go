// Package apex assembles a service from go.uber.org/fx modules: config,
// observability, HTTP, cache and rate limits, data, auth, background
// jobs and realtime. Every module runs on embedded defaults with nothing
// installed, and on Postgres and Redis by configuration alone.
//
//	func main() {
//		fx.New(apex.Modules...).Run()
//	}
package apex

import (
	"fmt"
	"slices"

	"go.uber.org/fx"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/cache"
	"github.com/apexgo/apex/data"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/httpx/openapi"
	"github.com/apexgo/apex/internal/redisconn"
	"github.com/apexgo/apex/observe"
	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/realtime"
)

// Capability names a module that an app can leave out with [Without].
// The foundation (config, lifecycle, logging, tracing, metrics, alerts) is
// not a Capability: every other module stands on it.
type Capability int

// The capabilities that can be left out.
const (
	// HTTP is the echo server (package httpx) with the OpenAPI document
	// and docs UI of its routes (package httpx/openapi). Without it,
	// metrics and the health endpoints are served only if
	// observe.admin.addr is set (httpx.AdminHealth).
	HTTP Capability = iota + 1
	// Cache is the key/value cache, the rate limiter and its middleware
	// (package cache). The Redis client (internal/redisconn) is part of the
	// foundation, so other modules keep using Redis without it.
	Cache
	// Data is gorm with the primary, named and tenant databases (package
	// data): SQLite under var/ without data.dsn.
	Data
	// Auth is JWT access tokens, refresh tokens, revocation, RBAC
	// middleware and password hashing (package auth).
	Auth
	// Queue is background jobs with status, retries and dead letters
	// (package queue): Redis Streams when Redis is configured, in process
	// otherwise.
	Queue
	// Realtime is the WebSocket and SSE hub (package realtime): channels,
	// presence, history, fan-out across instances on Redis, in-memory
	// without it.
	Realtime
)

func (c Capability) String() string {
	switch c {
	case HTTP:
		return "HTTP"
	case Cache:
		return "Cache"
	case Data:
		return "Data"
	case Auth:
		return "Auth"
	case Queue:
		return "Queue"
	case Realtime:
		return "Realtime"
	}
	return fmt.Sprintf("Capability(%d)", int(c))
}

// foundation is always present; it includes the root-level options that
// cannot live inside a module (fx's event logger and lifecycle budgets)
// and the process's one Redis client, which several capabilities share
// (nil unless redis.addr or redis.addrs is set).
func foundation() []fx.Option {
	return []fx.Option{app.Module, app.Timeouts, observe.Module, observe.EventLogger, redisconn.Module}
}

// capabilities lists the optional modules in start order.
var capabilities = []struct {
	c   Capability
	opt fx.Option
}{
	// openapi.Module comes first so that its start hook, which generates
	// the document, runs before the server listens.
	{HTTP, fx.Options(openapi.Module, httpx.Module)},
	{Cache, cache.Module},
	{Data, data.Module},
	{Auth, auth.Module},
	{Queue, queue.Module},
	{Realtime, realtime.Module},
}

// Modules is every apex module with its embedded defaults:
// fx.New(apex.Modules...) starts a working service with no configuration
// and no infrastructure. Its capacity equals its length, so that
// append(apex.Modules, ...) always copies and never changes what another
// caller sees.
var Modules = slices.Clip(all(nil))

// Without returns every module but the given capabilities, as one option:
//
//	fx.New(apex.Without(apex.HTTP), fx.Invoke(runWorker)).Run()
//
// Modules that can use a left-out capability keep working without it.
// An unknown Capability makes fx.New fail.
func Without(leave ...Capability) fx.Option {
	skip := map[Capability]bool{}
	for _, c := range leave {
		known := false
		for _, m := range capabilities {
			known = known || m.c == c
		}
		if !known {
			return fx.Error(fmt.Errorf("apex.Without: unknown %v", c))
		}
		skip[c] = true
	}
	return fx.Options(all(skip)...)
}

// Run builds an fx app from opts (include apex.Modules or apex.Without),
// starts it and blocks until SIGINT or SIGTERM, then stops it gracefully;
// it exits the process non-zero if the start or stop fails.
//
// Prefer it to fx.New(...).Run(): fx installs its signal handler only
// after every start hook has run, while apex's server already answers
// /readyz during the start, so a SIGTERM sent in that window would kill
// the process without a graceful stop. Run installs the handler first.
func Run(opts ...fx.Option) {
	a := fx.New(opts...)
	a.Wait() // installs the signal handler now; Run waits on the same channel
	a.Run()
}

func all(skip map[Capability]bool) []fx.Option {
	opts := foundation()
	for _, m := range capabilities {
		if !skip[m.c] {
			opts = append(opts, m.opt)
		}
	}
	if skip[HTTP] { // the health endpoints on observe's admin listener
		opts = append(opts, httpx.AdminHealth)
	}
	return opts
}
