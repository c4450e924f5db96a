package queue_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/auth"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/queue"
)

// GET /jobs/{id} has no Guard in front of it: with the auth module in
// the app, its caller is the subject of the request's bearer token, so a
// user reads the status of the jobs they enqueued behind the Guard, and
// nobody else does (another user's token, a bad token, none: 404).
func TestStatusRouteKnowsTheBearer(t *testing.T) {
	t.Parallel()
	var tokens auth.Tokens
	a := apptest.New(t, []fx.Option{
		apex.Without(apex.Data, apex.Cache),
		fx.Invoke(func(cl *queue.Client, tk auth.Tokens) {
			tokens = tk
			queue.Handle(cl.Worker(), "email.send", func(context.Context, queue.Job[email]) error { return nil })
		}),
		fx.Provide(httpx.AsRoute(func(cl *queue.Client, g *auth.Guard) httpx.Route {
			return g.Secure(httpx.Route{Method: http.MethodPost, Path: "/send", Handler: func(ec echo.Context) error {
				id, err := cl.Enqueue(ec.Request().Context(), "email.send", email{To: "a@example.com"})
				if err != nil {
					return err
				}
				return ec.JSON(http.StatusAccepted, map[string]string{"id": id})
			}})
		})),
	})
	bearer := func(sub string) string {
		p, err := tokens.Issue(t.Context(), auth.Principal{Subject: sub})
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + p.AccessToken
	}
	alice, mallory := bearer("alice"), bearer("mallory")
	r := a.Do(t, http.MethodPost, "/send", "", "Authorization", alice)
	if r.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /send: %d %s", r.StatusCode, r.Body)
	}
	var out struct{ ID string }
	r.JSON(t, &out)

	deadline := time.Now().Add(30 * time.Second)
	for {
		r = a.Do(t, http.MethodGet, "/jobs/"+out.ID, "", "Authorization", alice)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET own job with a bearer token: %d %s", r.StatusCode, r.Body)
		}
		var view queue.StatusView
		r.JSON(t, &view)
		if view.State == queue.Succeeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still %s", view.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for name, h := range map[string]string{
		"another user's token": mallory,
		"a bad token":          "Bearer not.a.token",
		"no token":             "",
		"basic credentials":    "Basic YWxpY2U6cHc=",
	} {
		if r := a.Do(t, http.MethodGet, "/jobs/"+out.ID, "", "Authorization", h); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET alice's job with %s: %d %s, want 404", name, r.StatusCode, r.Body)
		}
	}
}
