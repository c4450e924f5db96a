// Command realtime is a small chat with rooms, presence and a background
// job whose progress and completion arrive over the socket. It runs with
// nothing installed (in-memory hub; set APP_REDIS__ADDR to share rooms
// between instances):
//
//	go run ./examples/realtime
//	open http://localhost:8080/
//
// The page is static HTML with the npm "centrifuge" client (v5.8.0,
// vendored in static/ with its MIT licence). POST /login issues an access
// token for any name (a demo, not an authentication scheme); POST /jobs
// runs a fake job that reports progress through the same app.JobEventSink
// path that the queue module uses.
package main

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/realtime"
)

//go:embed static
var static embed.FS

func main() {
	apex.Run(options()...)
}

// options is apex's modules, this example's defaults and its routes.
func options() []fx.Option {
	return append(apex.Modules,
		fx.Decorate(withDefaults),
		fx.Module("example", fx.Provide(httpx.AsGroup(routes), newJobs)),
	)
}

// withDefaults turns on what the page needs: a public "room" namespace
// with presence, join/leave, client publications and a short history
// (unless config declares one), and job events pushed to user channels.
func withDefaults(c realtime.Config) realtime.Config {
	if _, ok := c.Namespaces["room"]; !ok {
		c.Namespaces = maps.Clone(c.Namespaces)
		c.Namespaces["room"] = realtime.NamespaceConfig{
			Public: true, Publish: true, Presence: true, JoinLeave: true,
			HistorySize: 50, HistoryTTL: 10 * time.Minute,
		}
	}
	c.JobEvents.Enabled = true
	return c
}

type jobs struct {
	sinks []app.JobEventSink
	wg    sync.WaitGroup
	stop  chan struct{}
	once  sync.Once
}

type jobsIn struct {
	fx.In
	Lifecycle fx.Lifecycle
	Sinks     []app.JobEventSink `group:"apex.job_event_sinks"`
}

func newJobs(in jobsIn) *jobs {
	j := &jobs{sinks: in.Sinks, stop: make(chan struct{})}
	in.Lifecycle.Append(fx.StopHook(func() {
		j.once.Do(func() { close(j.stop) })
		j.wg.Wait()
	}))
	return j
}

// run is a fake job of four steps that reports progress, then success.
func (j *jobs) run(subject string, step time.Duration) string {
	id := uuid.NewString()
	emit := func(e app.JobEvent) {
		e.ID, e.Kind, e.Queue, e.Subject, e.Attempt, e.At = id, "demo.report", "default", subject, 1, time.Now()
		for _, s := range j.sinks {
			s.JobEvent(context.Background(), e)
		}
	}
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		for p := 25; p <= 100; p += 25 {
			select {
			case <-time.After(step):
			case <-j.stop:
				emit(app.JobEvent{Status: "canceled"})
				return
			}
			emit(app.JobEvent{Status: "progress", Progress: p, Message: "step " + string(rune('0'+p/25)) + " of 4"})
		}
		emit(app.JobEvent{Status: "succeeded"})
	}()
	return id
}

type routesIn struct {
	fx.In
	Tokens auth.Tokens
	Jobs   *jobs
}

func routes(in routesIn) (httpx.Group, error) {
	files, err := fs.Sub(static, "static")
	if err != nil {
		return httpx.Group{}, err
	}
	fileServer := http.FileServer(http.FS(files))
	serve := func(c echo.Context) error {
		// apex's default policy allows nothing; the page needs its own
		// scripts, inline styles and a socket to this origin.
		c.Response().Header().Set("Content-Security-Policy",
			"default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'")
		fileServer.ServeHTTP(c.Response(), c.Request())
		return nil
	}
	return httpx.Group{Routes: []httpx.Route{
		{Method: http.MethodGet, Path: "/", Handler: serve},
		{Method: http.MethodGet, Path: "/centrifuge.js", Handler: serve},
		{Method: http.MethodGet, Path: "/app.js", Handler: serve},
		{Method: http.MethodPost, Path: "/login", Handler: func(c echo.Context) error {
			var req struct {
				Name string `json:"name" validate:"required,alphanum,max=32"`
			}
			if err := c.Bind(&req); err != nil {
				return err
			}
			if err := c.Validate(&req); err != nil {
				return err
			}
			p, err := in.Tokens.Issue(c.Request().Context(), auth.Principal{Subject: strings.ToLower(req.Name)})
			if err != nil {
				return err
			}
			return c.JSON(http.StatusOK, p)
		}},
		{Method: http.MethodPost, Path: "/jobs", Handler: func(c echo.Context) error {
			tok, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
			if !ok {
				return httpx.NewProblem(http.StatusUnauthorized, "a bearer token is required")
			}
			id, err := in.Tokens.Verify(c.Request().Context(), tok)
			if errors.Is(err, auth.ErrInvalidToken) {
				return httpx.NewProblem(http.StatusUnauthorized, "invalid token")
			} else if err != nil {
				return err
			}
			return c.JSON(http.StatusAccepted, map[string]string{"id": in.Jobs.run(id.Subject, 300*time.Millisecond)})
		}},
	}}, nil
}
