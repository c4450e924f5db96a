package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/redis/rueidis"

	"github.com/apexgo/apex/data/datatest"
	"github.com/apexgo/apex/examples/service/app"
	"github.com/apexgo/apex/examples/service/core"
	"github.com/apexgo/apex/examples/service/domain"
	"github.com/apexgo/apex/examples/service/smtpmail/smtptest"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/internal/testservice"
)

// snapshotEvery is the cron period of both runs (the default is a
// minute; a test cannot wait for three of those).
const snapshotEvery = 2 * time.Second

// env is a running deployment as the scenario sees it.
type env struct {
	// client spreads requests over every API instance.
	client *client
	// apis are the instances' base URLs; the scenario connects sockets to
	// apis[0] and apis[len-1] (the same one in the one-process run).
	apis []string
	// down and up are called partway: the cluster SIGKILLs one API
	// instance and the worker, and later restarts them.
	down, up func(t *testing.T)
	// smtp is the mail server of the cluster run, nil in the other.
	smtp *smtptest.Server
}

// TestEquivalence runs one scenario on one process with no
// infrastructure and on three processes on Postgres and Redis, and
// requires the same transcript of both.
func TestEquivalence(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service's processes")
	}
	build(t)
	var mu sync.Mutex
	transcripts := map[string][]string{}
	t.Run("runs", func(t *testing.T) {
		for name, start := range map[string]func(*testing.T) *env{"one-process": oneProcess, "cluster": cluster} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				tr := scenario(t, start(t))
				mu.Lock()
				transcripts[name] = tr
				mu.Unlock()
			})
		}
	})
	one, three := transcripts["one-process"], transcripts["cluster"]
	if one == nil || three == nil {
		return // a run failed and said why
	}
	if !slices.Equal(one, three) {
		t.Fatalf("the runs differ:\none process:\n  %s\ncluster:\n  %s", strings.Join(one, "\n  "), strings.Join(three, "\n  "))
	}
	t.Logf("both runs:\n  %s", strings.Join(one, "\n  "))
}

// oneProcess is cmd/api with no configuration but its address and the
// cron period: SQLite under its working directory, in-memory cache,
// queue, hub and mail.
func oneProcess(t *testing.T) *env {
	bin := build(t)
	addr := freeAddr(t)
	api := newProc(t, "api", bin+"/api", t.TempDir(), append(baseEnv(),
		"APP_HTTP__ADDR="+addr,
		"APP_TRACKER__SNAPSHOT_EVERY="+snapshotEvery.String(),
	)...)
	api.start()
	base := "http://" + addr
	api.waitReady(base + "/readyz")
	nothing := func(*testing.T) {}
	return &env{client: newClient(base), apis: []string{base}, down: nothing, up: nothing}
}

// cluster is cmd/migrate once, then 2 × cmd/api (queue.worker off) and
// cmd/worker on a Postgres schema and a Redis key space of their own,
// mail to an SMTP server the test runs.
func cluster(t *testing.T) *env {
	bin := build(t)
	redisAddr := testservice.Need(t, testservice.Redis)
	dsn := datatest.PostgresDSN(t)
	name := "trk" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	cleanRedis(t, redisAddr, name)
	mail := smtptest.Start(t)
	mailHost, mailPort, _ := net.SplitHostPort(mail.Addr)
	common := slices.Concat(baseEnv(), []string{
		"APP_ENV=production",
		"APP_SERVICE__NAME=" + name,
		"APP_DATA__DSN=" + dsn,
		"APP_REDIS__ADDR=" + redisAddr,
		"APP_AUTH__SECRET=equivalence-run-secret-of-at-least-32-bytes",
		"APP_TRACKER__SNAPSHOT_EVERY=" + snapshotEvery.String(),
		"APP_TRACKER__MAIL__HOST=" + mailHost,
		"APP_TRACKER__MAIL__PORT=" + mailPort,
		"APP_TRACKER__MAIL__TLS=none",
		"APP_QUEUE__REDIS__HEARTBEAT=1s",
	})
	common = slices.Clip(common) // every process appends its own
	dir := t.TempDir()
	migrate := newProc(t, "migrate", bin+"/migrate", dir, common...)
	if out, err := migrate.run("up"); err != nil || !strings.Contains(out, "applied 1 migrations") {
		t.Fatalf("migrate up: %v\n%s", err, out)
	}
	var apis []*proc
	var bases []string
	for i := range 2 {
		addr := freeAddr(t)
		p := newProc(t, fmt.Sprintf("api%d", i+1), bin+"/api", dir, append(common, "APP_HTTP__ADDR="+addr, "APP_QUEUE__WORKER=false")...)
		p.start()
		apis = append(apis, p)
		bases = append(bases, "http://"+addr)
	}
	adminAddr := freeAddr(t)
	worker := newProc(t, "worker", bin+"/worker", dir, append(common, "APP_OBSERVE__ADMIN__ADDR="+adminAddr)...)
	worker.start()
	for i, p := range apis {
		p.waitReady(bases[i] + "/readyz")
	}
	worker.waitReady("http://" + adminAddr + "/readyz")
	return &env{client: newClient(bases...), apis: bases, smtp: mail,
		down: func(t *testing.T) {
			apis[1].kill()
			worker.kill()
			t.Log("api2 and the worker SIGKILLed")
		},
		up: func(t *testing.T) {
			apis[1].start()
			worker.start()
			apis[1].waitReady(bases[1] + "/readyz")
			worker.waitReady("http://" + adminAddr + "/readyz")
			t.Log("api2 and the worker restarted")
		},
	}
}

// cleanRedis deletes the run's keys (every key containing name) when the
// test ends.
func cleanRedis(t *testing.T, addr, name string) {
	t.Cleanup(func() {
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
		if err != nil {
			t.Logf("redis cleanup: %v", err)
			return
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var cursor uint64
		for {
			e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match("*"+name+"*").Count(1000).Build()).AsScanEntry()
			if err != nil {
				t.Logf("redis cleanup: %v", err)
				return
			}
			if len(e.Elements) > 0 {
				c.Do(ctx, c.B().Unlink().Key(e.Elements...).Build())
			}
			if cursor = e.Cursor; cursor == 0 {
				return
			}
		}
	})
}

const password = "correct horse battery staple"

type user struct {
	email, tenant string
	id            string
	token         string
}

// jobMessage is a job event pushed on a user channel.
type jobMessage struct {
	Type string `json:"type"`
	Job  struct {
		ID     string `json:"id"`
		Kind   string `json:"kind"`
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"job"`
}

type jobView struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	State     string          `json:"state"`
	LastError string          `json:"last_error"`
	Result    json.RawMessage `json:"result"`
}

// scenario is the whole story, asserted the same way on every
// deployment. It returns its transcript: what a client observed, without
// IDs or times.
func scenario(t *testing.T, e *env) []string {
	var tr []string
	note := func(format string, args ...any) { tr = append(tr, fmt.Sprintf(format, args...)) }
	c := e.client

	// Accounts: the first user of a tenant owns it.
	register := func(tenant, email string, roles ...string) *user {
		var v struct {
			ID    string   `json:"id"`
			Roles []string `json:"roles"`
		}
		want(t, "register "+email, c.do(t, "POST", "/auth/register", "", map[string]string{"tenant": tenant, "email": email, "password": password}), 201).decode(t, &v)
		if !slices.Equal(v.Roles, roles) {
			t.Fatalf("register %s: roles %v, want %v", email, v.Roles, roles)
		}
		note("register %s/%s: 201 roles %v", tenant, email, v.Roles)
		return &user{email: email, tenant: tenant, id: v.ID}
	}
	ann := register("acme", "ann@acme.example", domain.RoleOwner, domain.RoleMember)
	bob := register("acme", "bob@acme.example", domain.RoleMember)
	cat := register("globex", "cat@globex.example", domain.RoleOwner, domain.RoleMember)
	r := c.do(t, "POST", "/auth/register", "", map[string]string{"tenant": "acme", "email": "ANN@acme.example", "password": password})
	note("register a taken email: %d %s", want(t, "register twice", r, 409).Status, r.problemCode())
	r = c.do(t, "POST", "/auth/register", "", map[string]string{"tenant": "acme", "email": "x@acme.example", "password": "short"})
	note("register a short password: %d %s", want(t, "short password", r, 422).Status, r.problemCode())

	login := func(u *user) {
		var pair struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		want(t, "login "+u.email, c.do(t, "POST", "/auth/login", "", map[string]string{"tenant": u.tenant, "email": u.email, "password": password}), 200).decode(t, &pair)
		if pair.AccessToken == "" || pair.RefreshToken == "" {
			t.Fatalf("login %s: %+v", u.email, pair)
		}
		u.token = pair.AccessToken
	}
	for _, u := range []*user{ann, bob, cat} {
		login(u)
	}
	r = c.do(t, "POST", "/auth/login", "", map[string]string{"tenant": "acme", "email": ann.email, "password": "wrong password!"})
	note("login with a wrong password: %d", want(t, "wrong password", r, 401).Status)
	r = c.do(t, "POST", "/auth/login", "", map[string]string{"tenant": "globex", "email": ann.email, "password": password})
	note("login in another tenant: %d", want(t, "other tenant", r, 401).Status)
	note("projects without a token: %d", want(t, "no token", c.do(t, "GET", "/projects", "", nil), 401).Status)

	// Data per tenant; the project's mail is an outbox job committed with it.
	createProject := func(u *user, name string) (domain.Project, string) {
		var v struct {
			Project domain.Project `json:"project"`
			Notify  string         `json:"notify_job"`
		}
		want(t, "create "+name, c.do(t, "POST", "/projects", u.token, map[string]string{"name": name}), 201).decode(t, &v)
		note("create project %s in %s: 201", name, u.tenant)
		return v.Project, v.Notify
	}
	apollo, apolloMail := createProject(ann, "Apollo")
	borealis, borealisMail := createProject(cat, "Borealis")
	note("create Apollo again: %d", want(t, "duplicate project", c.do(t, "POST", "/projects", bob.token, map[string]string{"name": "Apollo"}), 409).Status)
	note("globex reads acme's project: %d", want(t, "cross-tenant read", c.do(t, "GET", "/projects/"+apollo.ID, cat.token, nil), 404).Status)
	note("globex adds a task to acme's project: %d", want(t, "cross-tenant write", c.do(t, "POST", "/projects/"+apollo.ID+"/tasks", cat.token, map[string]string{"title": "x"}), 404).Status)
	for _, u := range []*user{ann, bob, cat} { // twice each: the second from the cache
		for range 2 {
			var list []domain.Project
			want(t, "list projects", c.do(t, "GET", "/projects", u.token, nil), 200).decode(t, &list)
			if len(list) != 1 || list[0].Tenant != u.tenant {
				t.Fatalf("%s lists %+v", u.email, list)
			}
		}
		note("%s lists 1 project of %s", u.email, u.tenant)
	}

	// Sockets: ann on the first instance, bob on the last, both in
	// Apollo's room; globex's user is refused there.
	annWS, bobWS, catWS := dial(t, e.apis[0], ann.token), dial(t, e.apis[len(e.apis)-1], bob.token), dial(t, e.apis[0], cat.token)
	room := app.RoomOf("acme", apollo.ID)
	for _, s := range []*socket{annWS, bobWS} {
		if err := s.subscribe(t, room); err != nil {
			t.Fatalf("subscribe %s: %v", room, err)
		}
	}
	note("ann and bob subscribe to Apollo's room")
	if err := catWS.subscribe(t, room); err == nil {
		t.Fatal("globex's user subscribed to acme's room")
	}
	note("cat is refused Apollo's room")

	addTasks := func(u *user, p domain.Project, titles ...string) {
		for _, title := range titles {
			want(t, "add task", c.do(t, "POST", "/projects/"+p.ID+"/tasks", u.token, map[string]string{"title": title}), 201)
		}
	}
	roomTitles := func(s *socket) []string {
		var titles []string
		for _, m := range s.roomMessages(room) {
			var ev app.TaskEvent
			_ = json.Unmarshal(m, &ev)
			titles = append(titles, ev.Type+":"+ev.Task.Title)
		}
		return titles
	}
	waitRoom := func(titles ...string) {
		var want []string
		for _, tt := range titles {
			want = append(want, "task.added:"+tt)
		}
		for name, s := range map[string]*socket{"ann": annWS, "bob": bobWS} {
			eventually(t, name+" receives the room's tasks", func() (bool, string) {
				got := roomTitles(s)
				return slices.Equal(got, want), fmt.Sprint(got)
			})
		}
		note("room: ann and bob received %v", titles)
	}
	addTasks(ann, apollo, "design", "build", "launch") // round robin: both instances
	waitRoom("design", "build", "launch")

	// Reports: a rate limit per user, shared by every instance. Halfway,
	// the cluster loses an API instance and its only worker: the rest of
	// the reports go through the other instance, the limit still counts
	// those of both, and the jobs wait for a worker.
	var reports []string
	for i := range core.DefaultReportsPerHour + 1 {
		if i == core.DefaultReportsPerHour/2 {
			e.down(t)
		}
		r := c.do(t, "POST", "/projects/"+apollo.ID+"/reports", ann.token, nil)
		if i < core.DefaultReportsPerHour {
			var v struct {
				JobID string `json:"job_id"`
			}
			want(t, "report", r, 202).decode(t, &v)
			reports = append(reports, v.JobID)
			continue
		}
		want(t, "report over the limit", r, 429)
		if r.Header.Get("Retry-After") == "" || r.problemCode() != "rate_limited" {
			t.Fatalf("429 without Retry-After or code: %v %s", r.Header, r.Body)
		}
		note("report %d: %d %s with Retry-After", i+1, r.Status, r.problemCode())
	}
	note("%d reports accepted", len(reports))
	var failing struct {
		JobID string `json:"job_id"`
	}
	want(t, "report of an empty project", c.do(t, "POST", "/projects/"+borealis.ID+"/reports", cat.token, nil), 202).decode(t, &failing)

	e.up(t)

	// waitState waits for a job's state. A job of the outbox has no
	// status until the relay moved it to the queue (within
	// queue.outbox.poll of the commit): 404 until then.
	waitState := func(u *user, id, state string) jobView {
		var v jobView
		eventually(t, "job "+id+" "+state, func() (bool, string) {
			r := c.do(t, "GET", "/jobs/"+id, u.token, nil)
			if r.Status == 404 {
				return false, "not found yet"
			}
			want(t, "job status", r, 200).decode(t, &v)
			return v.State == state, v.State + " " + v.LastError
		})
		return v
	}
	pushed := func(s *socket, status string) map[string]bool {
		ids := map[string]bool{}
		for _, m := range s.userMessages() {
			var jm jobMessage
			if json.Unmarshal(m, &jm) == nil && jm.Type == "job" && jm.Job.Status == status {
				ids[jm.Job.ID] = true
			}
		}
		return ids
	}

	// Every report job ran, none lost, and ann was told over her socket.
	for _, id := range reports {
		v := waitState(ann, id, "succeeded")
		var rep app.Report
		if err := json.Unmarshal(v.Result, &rep); err != nil || rep.Tasks != 3 || rep.Done != 0 || rep.MailedTo != ann.email || rep.Project != "Apollo" {
			t.Fatalf("report %s: %s (%v)", id, v.Result, err)
		}
	}
	note("%d report jobs succeeded: 3 tasks, 0 done, mailed to ann", len(reports))
	eventually(t, "ann is pushed every report's success", func() (bool, string) {
		got := pushed(annWS, "succeeded")
		for _, id := range reports {
			if !got[id] {
				return false, fmt.Sprintf("%d of %d", len(got), len(reports))
			}
		}
		return true, ""
	})
	note("ann was pushed %d successes", len(reports))
	note("bob reads ann's job: %d", want(t, "another user's job", c.do(t, "GET", "/jobs/"+reports[0], bob.token, nil), 404).Status)

	// A report of an empty project fails into the dead letters; its owner
	// replays it once the project has a task.
	v := waitState(cat, failing.JobID, "failed")
	if !strings.Contains(v.LastError, app.ErrNothingToReport.Error()) {
		t.Fatalf("failed report: %+v", v)
	}
	note("Borealis's report failed: %s", app.ErrNothingToReport)
	eventually(t, "cat is pushed the failure", func() (bool, string) { return pushed(catWS, "failed")[failing.JobID], "" })
	note("cat was pushed the failure")
	note("ann replays globex's job: %d", want(t, "cross-tenant replay", c.do(t, "POST", "/jobs/"+failing.JobID+"/replay", ann.token, nil), 404).Status)
	note("bob (member) replays: %d", want(t, "member replay", c.do(t, "POST", "/jobs/"+failing.JobID+"/replay", bob.token, nil), 403).Status)
	addTasks(cat, borealis, "survey")
	note("cat replays: %d", want(t, "replay", c.do(t, "POST", "/jobs/"+failing.JobID+"/replay", cat.token, nil), 202).Status)
	v = waitState(cat, failing.JobID, "succeeded")
	var rep app.Report
	if err := json.Unmarshal(v.Result, &rep); err != nil || rep.Tasks != 1 || rep.MailedTo != cat.email {
		t.Fatalf("replayed report: %s (%v)", v.Result, err)
	}
	eventually(t, "cat is pushed the replay's success", func() (bool, string) { return pushed(catWS, "succeeded")[failing.JobID], "" })
	note("the replayed report succeeded (1 task) and cat was pushed it")
	note("replay a succeeded job: %d", want(t, "replay twice", c.do(t, "POST", "/jobs/"+failing.JobID+"/replay", cat.token, nil), 409).Status)

	// The outbox's jobs ran.
	for u, id := range map[*user]string{ann: apolloMail, cat: borealisMail} {
		v := waitState(u, id, "succeeded")
		if !strings.Contains(string(v.Result), u.email) {
			t.Fatalf("project mail job: %s", v.Result)
		}
	}
	note("both projects' mail jobs (outbox) succeeded")

	// The room still spans every instance (after the restart, on the
	// cluster).
	eventually(t, "bob's socket is back in the room", func() (bool, string) { return bobWS.subscribed(room), "" })
	addTasks(bob, apollo, "review", "celebrate")
	waitRoom("design", "build", "launch", "review", "celebrate")

	// The cron: one snapshot per tick, no tick missed.
	var snaps []domain.Snapshot
	eventually(t, "three snapshots", func() (bool, string) {
		want(t, "snapshots", c.do(t, "GET", "/snapshots", ann.token, nil), 200).decode(t, &snaps)
		return len(snaps) >= 3, fmt.Sprint(len(snaps))
	})
	for i, s := range snaps {
		if i > 0 && !s.Tick.Equal(snaps[i-1].Tick.Add(snapshotEvery)) {
			t.Fatalf("snapshot ticks %v then %v: want one every %v, each once", snaps[i-1].Tick, s.Tick, snapshotEvery)
		}
		if id := s.JobID; !strings.Contains(id, "cron-"+core.SnapshotSchedule+"-") {
			t.Fatalf("snapshot of job %s", id)
		}
	}
	note("snapshots: one per tick, every %v, none missed", snapshotEvery)
	note("a member reads the snapshots: %d", want(t, "member snapshots", c.do(t, "GET", "/snapshots", bob.token, nil), 403).Status)

	// The API describes itself: every route of the tracker is in the
	// OpenAPI document, with its security.
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	want(t, "openapi.json", c.do(t, "GET", "/openapi.json", "", nil), 200).decode(t, &doc)
	ops := map[string][]string{
		"/auth/register": {"post"}, "/auth/login": {"post"}, "/auth/refresh": {"post"},
		"/projects": {"get", "post"}, "/projects/{id}": {"get"}, "/projects/{id}/tasks": {"get", "post"},
		"/projects/{id}/reports": {"post"}, "/jobs/{id}/replay": {"post"}, "/snapshots": {"get"},
	}
	secured, total := 0, 0
	for path, methods := range ops {
		for _, m := range methods {
			total++
			op, ok := doc.Paths[path][m]
			if !ok {
				t.Fatalf("openapi.json has no %s %s", m, path)
			}
			if strings.Contains(string(op), `"security"`) {
				secured++
			}
		}
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") || !strings.Contains(string(doc.Paths["/projects/{id}/reports"]["post"]), `"429"`) {
		t.Fatalf("openapi %q; reports: %s", doc.OpenAPI, doc.Paths["/projects/{id}/reports"]["post"])
	}
	note("openapi %s: the tracker's %d operations, %d behind a bearer token", doc.OpenAPI, total, secured)
	conforms(t, c, ops)
	note("every response of the tracker's operations conforms to the document")

	if e.smtp != nil {
		// Mail is at least once: a job whose worker was killed may have sent
		// before it died. Every expected message arrived.
		wantMail := map[string]bool{
			ann.email + " Report ready: Apollo": true, cat.email + " Report ready: Borealis": true,
			ann.email + " Project created: Apollo": true, cat.email + " Project created: Borealis": true,
		}
		eventually(t, "the mails arrive", func() (bool, string) {
			apolloReports, seen := 0, map[string]bool{}
			for _, m := range e.smtp.Received() {
				seen[m.To+" "+m.Subject] = true
				if m.Subject == "Report ready: Apollo" {
					apolloReports++
				}
			}
			for k := range wantMail {
				if !seen[k] {
					return false, fmt.Sprint(seen)
				}
			}
			return apolloReports >= len(reports), fmt.Sprint(apolloReports)
		})
	}
	return tr
}

func init() {
	openapi3filter.RegisterBodyDecoder(httpx.ProblemContentType, openapi3filter.JSONBodyDecoder)
}

// conforms checks every exchange the scenario had with the tracker's
// operations (ops) against the OpenAPI document the service serves,
// with kin-openapi: each response, and each request that succeeded.
func conforms(t *testing.T, c *client, ops map[string][]string) {
	t.Helper()
	raw := c.do(t, "GET", "/openapi.json", "", nil).Body
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			if _, ok := strings.CutPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer "); !ok {
				return errors.New("no bearer token")
			}
			return nil
		}}
	checked := 0
	for _, x := range c.exchanges() {
		req := httptest.NewRequest(x.method, "http://tracker"+x.path, bytes.NewReader(x.body))
		if x.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if x.token != "" {
			req.Header.Set("Authorization", "Bearer "+x.token)
		}
		route, params, err := router.FindRoute(req)
		if err != nil || !slices.Contains(ops[route.Path], strings.ToLower(x.method)) {
			continue // apex's own routes: the openapi module's tests cover them
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && x.resp.Status < 400 {
			t.Errorf("%s %s: the request does not conform, yet it succeeded: %v", x.method, x.path, err)
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: x.resp.Status, Header: x.resp.Header, Options: opts}
		out.SetBodyBytes(x.resp.Body)
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s %s: the %d response does not conform: %v\n%s", x.method, x.path, x.resp.Status, err, x.resp.Body)
		}
		checked++
	}
	if checked < 30 {
		t.Fatalf("only %d exchanges checked", checked)
	}
}
