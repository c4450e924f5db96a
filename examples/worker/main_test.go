package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/internal/testservice"
	"github.com/apexgo/apex/observe"
	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/queuetest"
)

func startWorker(t *testing.T) (*queue.Client, *observe.AdminServer) {
	t.Helper()
	addr := testservice.Need(t, testservice.Redis)
	var c *queue.Client
	var adm *observe.AdminServer
	apptest.New(t, options(), apptest.ConfigDir("config"), apptest.With(fx.Populate(&c, &adm)), apptest.Config(map[string]any{
		"redis.addr": addr, "queue.prefix": queuetest.Prefix(), "observe.admin.addr": "127.0.0.1:0",
	}))
	return c, adm
}

func waitState(t *testing.T, c *queue.Client, id string, s queue.State) queue.Status {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := c.Status(t.Context(), id)
		if err == nil && st.State == s {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: %+v, %v; want %s", id, st, err, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b)
}

func TestWorkerRunsJobs(t *testing.T) {
	t.Parallel()
	c, adm := startWorker(t)
	mail, err := c.Enqueue(t.Context(), "email.send", Email{To: "a@flaky.example"})
	if err != nil {
		t.Fatal(err)
	}
	report, err := c.Enqueue(t.Context(), "report.build", Report{Month: "2026-11"})
	if err != nil {
		t.Fatal(err)
	}
	if queue.QueueOf(report) != "reports" {
		t.Fatalf("report.build enqueued on %q; its kind says reports", queue.QueueOf(report))
	}
	if st := waitState(t, c, mail, queue.Succeeded); st.Attempts != 2 || st.LastError == "" {
		t.Fatalf("flaky email: %+v", st)
	}
	if st := waitState(t, c, report, queue.Succeeded); st.Progress != 100 || !strings.Contains(string(st.Result), "2026-11.pdf") {
		t.Fatalf("report: %+v %s", st, st.Result)
	}
	base := "http://" + adm.Addr().String()
	if code, body := get(t, base+"/readyz"); code != 200 || !strings.Contains(body, `"queue"`) || !strings.Contains(body, `"redis"`) {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	if code, _ := get(t, base+"/livez"); code != 200 {
		t.Fatalf("/livez: %d", code)
	}
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, `apex_queue_jobs_total{event="succeeded",kind="report.build"} 1`) {
		t.Fatalf("/metrics: %d %s", code, body)
	}
}

func TestDeadLetterCommands(t *testing.T) {
	t.Parallel()
	c, _ := startWorker(t)
	id, err := c.Enqueue(t.Context(), "email.send", Email{To: "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, c, id, queue.Failed)
	do := func(args ...string) string {
		var out bytes.Buffer
		if err := run(t.Context(), c, args, &out); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	var list []queue.StatusView
	if err := json.Unmarshal([]byte(do("dead", "list", "default")), &list); err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("dead list: %+v, %v", list, err)
	}
	if out := do("dead", "replay", "default", id); out != "replayed 1\n" {
		t.Fatalf("replay: %q", out)
	}
	waitState(t, c, id, queue.Failed) // still a bad address
	if out := do("dead", "purge", "default"); out != "purged 1\n" {
		t.Fatalf("purge: %q", out)
	}
	if out := do("dead", "list", "default"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("after purge: %q", out)
	}
	var out bytes.Buffer
	if err := run(t.Context(), c, []string{"status", id}, &out); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("status of a purged job: %v", err)
	}
	if err := run(t.Context(), c, []string{"nonsense"}, &out); err == nil || !strings.Contains(out.String(), "usage") {
		t.Fatalf("unknown command: %v %q", err, out.String())
	}
}

// The command line runs against the configured Redis without starting
// the workers.
func TestCommandLine(t *testing.T) {
	addr := testservice.Need(t, testservice.Redis)
	t.Setenv("APP_REDIS__ADDR", addr)
	t.Setenv("APP_QUEUE__PREFIX", queuetest.Prefix())
	t.Setenv("APP_OBSERVE__ADMIN__ADDR", "")
	var out bytes.Buffer
	if err := command([]string{"enqueue", "email.send", `{"to":"x@example.com"}`}, &out); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(out.String())
	out.Reset()
	if err := command([]string{"status", id}, &out); err != nil || !strings.Contains(out.String(), `"state": "pending"`) {
		t.Fatalf("status: %v %s (no worker ran, so the job waits)", err, out.String())
	}
}
