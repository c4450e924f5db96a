package queue

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/apexgo/apex/httpx"
)

// CanSee decides whether the caller of GET /jobs/{id} may read the job's
// status. The default, [SameSubject], lets a caller see only the jobs
// enqueued under its own subject; provide your own in the container
// (fx.Provide(func() queue.CanSee { ... })) to change it. A job the
// caller may not see answers 404, like an unknown one.
type CanSee func(c echo.Context, s Status) bool

// SameSubject is the default [CanSee]: the caller's subject (from
// httpx.SubjectFunc, "" without one) equals the job's.
func SameSubject(subject httpx.SubjectFunc) CanSee {
	return func(c echo.Context, s Status) bool {
		caller := ""
		if subject != nil {
			caller = subject(c)
		}
		return caller == s.Subject
	}
}

// BearerSubject returns the caller's subject as subject finds it (the
// route's own authentication) or, when that finds none, as verify reads
// it from the request's bearer token (Authorization: Bearer ...), so
// that GET /jobs/{id} knows its caller without a Guard in front of it. A
// missing, invalid or expired token, or a nil verify, gives "".
func BearerSubject(subject httpx.SubjectFunc, verify httpx.TokenVerifier) httpx.SubjectFunc {
	return func(c echo.Context) string {
		if subject != nil {
			if s := subject(c); s != "" {
				return s
			}
		}
		if verify == nil {
			return ""
		}
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
			return ""
		}
		t, err := verify(c.Request().Context(), strings.TrimSpace(h[7:]))
		if err != nil {
			return ""
		}
		return t.Subject
	}
}

// RoleMiddleware returns middleware that lets through callers with role;
// auth's Guard has one: fx.Provide(func(g *auth.Guard) queue.RoleMiddleware { return g.RequireRole }).
type RoleMiddleware func(role string) echo.MiddlewareFunc

// StatusView is the JSON body of GET /jobs/{id}.
type StatusView struct {
	ID          string          `json:"id"`
	Kind        string          `json:"kind"`
	Queue       string          `json:"queue"`
	State       State           `json:"state"`
	Attempts    int             `json:"attempts"`
	MaxAttempts int             `json:"max_attempts"`
	LastError   string          `json:"last_error,omitempty"`
	Result      json.RawMessage `json:"result,omitempty"`
	Progress    int             `json:"progress"`
	Message     string          `json:"message,omitempty"`
	EnqueuedAt  time.Time       `json:"enqueued_at"`
	RunAt       *time.Time      `json:"run_at,omitempty"`
	StartedAt   *time.Time      `json:"started_at,omitempty"`
	FinishedAt  *time.Time      `json:"finished_at,omitempty"`
	UpdatedAt   *time.Time      `json:"updated_at,omitempty"`
}

func opt(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// View returns the JSON body for s.
func View(s Status) StatusView {
	return StatusView{ID: s.ID, Kind: s.Kind, Queue: s.Queue, State: s.State, Attempts: s.Attempts, MaxAttempts: s.MaxAttempts,
		LastError: s.LastError, Result: json.RawMessage(s.Result), Progress: s.Progress, Message: s.Message, EnqueuedAt: s.EnqueuedAt,
		RunAt: opt(s.RunAt), StartedAt: opt(s.StartedAt), FinishedAt: opt(s.FinishedAt), UpdatedAt: opt(s.UpdatedAt)}
}

// StatusHandler serves a job's status at a route with an :id parameter:
// 200 with a [StatusView], 404 problem (code not_found) for an unknown
// job or one that see refuses, 503 (code unavailable) when the backend
// is down.
func (c *Client) StatusHandler(see CanSee, down *httpx.Unavailable) echo.HandlerFunc {
	return func(ec echo.Context) error {
		id := ec.Param("id")
		s, err := c.Status(ec.Request().Context(), id)
		switch {
		case errors.Is(err, ErrNotFound):
			return notFound(id)
		case err != nil:
			return down.Problem(ec.Request().Context(), err)
		case !see(ec, s):
			return notFound(id)
		}
		return ec.JSON(http.StatusOK, View(s))
	}
}

func notFound(id string) *httpx.Problem {
	p := httpx.NewProblem(http.StatusNotFound, "no job "+strconv.Quote(id))
	p.Code = httpx.CodeNotFound
	return p
}

// AdminGroup returns the dead-letter routes under prefix, behind mw:
//
//	GET    {prefix}/:queue/dead?offset=&limit=   list (newest first, limit ≤ 1000, default 100)
//	POST   {prefix}/:queue/dead/replay           replay all, or {"ids": [...]}
//	DELETE {prefix}/:queue/dead                  purge all, or ?id=...&id=...
func (c *Client) AdminGroup(prefix string, down *httpx.Unavailable, mw ...echo.MiddlewareFunc) (httpx.Group, error) {
	dl, err := c.DeadLetters()
	if err != nil {
		return httpx.Group{}, err
	}
	queueParam := func(ec echo.Context) (string, error) {
		q := ec.Param("queue")
		if validQueue(q) != nil {
			return "", notFound(q)
		}
		return q, nil
	}
	list := func(ec echo.Context) error {
		q, err := queueParam(ec)
		if err != nil {
			return err
		}
		offset, _ := strconv.Atoi(ec.QueryParam("offset"))
		limit, _ := strconv.Atoi(ec.QueryParam("limit"))
		if limit <= 0 {
			limit = 100
		}
		ss, err := dl.Dead(ec.Request().Context(), q, max(offset, 0), min(limit, 1000))
		if err != nil {
			return down.Problem(ec.Request().Context(), err)
		}
		out := make([]StatusView, len(ss))
		for i, s := range ss {
			out[i] = View(s)
		}
		return ec.JSON(http.StatusOK, out)
	}
	replay := func(ec echo.Context) error {
		q, err := queueParam(ec)
		if err != nil {
			return err
		}
		var body struct {
			IDs []string `json:"ids"`
		}
		if ec.Request().ContentLength > 0 {
			if err := ec.Bind(&body); err != nil {
				return err
			}
		}
		n, err := dl.Replay(ec.Request().Context(), q, body.IDs...)
		if err != nil {
			return down.Problem(ec.Request().Context(), err)
		}
		return ec.JSON(http.StatusOK, map[string]int{"replayed": n})
	}
	purge := func(ec echo.Context) error {
		q, err := queueParam(ec)
		if err != nil {
			return err
		}
		n, err := dl.Purge(ec.Request().Context(), q, ec.QueryParams()["id"]...)
		if err != nil {
			return down.Problem(ec.Request().Context(), err)
		}
		return ec.JSON(http.StatusOK, map[string]int{"purged": n})
	}
	return httpx.Group{Prefix: prefix, Middleware: mw, Routes: []httpx.Route{
		{Method: http.MethodGet, Path: "/:queue/dead", Handler: list},
		{Method: http.MethodPost, Path: "/:queue/dead/replay", Handler: replay},
		{Method: http.MethodDelete, Path: "/:queue/dead", Handler: purge},
	}}, nil
}
