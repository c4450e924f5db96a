package apex_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/queue"
)

func TestAppendToModulesNeverAliases(t *testing.T) {
	t.Parallel()
	a := append(apex.Modules, fx.Invoke(func() {}))
	b := append(apex.Modules, fx.Invoke(func() {}))
	if &a[len(a)-1] == &b[len(b)-1] {
		t.Fatal("append(apex.Modules, ...) shares its backing array between callers")
	}
}

func TestWithoutUnknownCapabilityFails(t *testing.T) {
	t.Parallel()
	err := fx.New(fx.NopLogger, apex.Without(apex.Capability(99))).Err()
	if err == nil || !strings.Contains(err.Error(), "Capability(99)") {
		t.Fatalf("got %v", err)
	}
}

// Every capability can be left out, alone or all together, and the rest
// still starts and serves its health endpoints (or, without HTTP, runs).
func TestWithoutEachCapabilityStarts(t *testing.T) {
	t.Parallel()
	all := []apex.Capability{apex.HTTP, apex.Cache, apex.Data, apex.Auth, apex.Queue, apex.Realtime}
	cases := [][]apex.Capability{all}
	for _, c := range all {
		cases = append(cases, []apex.Capability{c})
	}
	for _, leave := range cases {
		t.Run(fmt.Sprint(leave), func(t *testing.T) {
			t.Parallel()
			a := apptest.New(t, []fx.Option{apex.Without(leave...)})
			if !slices.Contains(leave, apex.HTTP) {
				if r := a.Do(t, http.MethodGet, "/readyz", ""); r.StatusCode != http.StatusOK {
					t.Fatalf("/readyz without %v: %d %s", leave, r.StatusCode, r.Body)
				}
			}
		})
	}
}

func TestCapabilityNames(t *testing.T) {
	t.Parallel()
	for c, want := range map[apex.Capability]string{apex.HTTP: "HTTP", apex.Cache: "Cache", apex.Data: "Data", apex.Auth: "Auth", apex.Queue: "Queue", apex.Realtime: "Realtime"} {
		if c.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(c), c.String(), want)
		}
	}
}

// apex.Modules runs background jobs on the in-process backend with
// nothing configured, and reports their status over HTTP.
func TestModulesRunJobs(t *testing.T) {
	t.Parallel()
	var c *queue.Client
	a := apptest.New(t, []fx.Option{apex.Without(), fx.Invoke(func(cl *queue.Client) {
		c = cl
		queue.Handle(cl.Worker(), "greet", func(context.Context, queue.Job[string]) error { return nil })
	})})
	id, err := c.Enqueue(t.Context(), "greet", "world")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := a.Do(t, http.MethodGet, "/jobs/"+id, "")
		if r.StatusCode == http.StatusOK && strings.Contains(string(r.Body), `"state":"succeeded"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /jobs/%s: %d %s", id, r.StatusCode, r.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := a.Do(t, http.MethodGet, "/jobs/default.nosuchjob", ""); r.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown job: %d %s", r.StatusCode, r.Body)
	}
}
