package openapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/apexgo/apex/httpx"
)

func init() {
	openapi3filter.RegisterBodyDecoder(httpx.ProblemContentType, openapi3filter.JSONBodyDecoder)
}

// exchange is one request of the round trip and the status it must get.
type exchange struct {
	name, method, path, body, token string
	status                          int
	// validRequest: the request itself conforms to the document (a
	// request without its token or with a bad body does not).
	validRequest bool
	check        func(t *testing.T, body []byte)
}

// A round trip of the sample app, on httpx's real stack and auth's real
// Guard: every request that should conform to the document does, and
// every response — successes, a 422 with field errors, a 401, a 403, a
// 404 problem — conforms to it, checked by kin-openapi's openapi3filter.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := newSample(t)
	doc := load(t, s.doc.JSON())
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	user, admin := s.token(t, "member"), s.token(t, "admin")
	var created struct {
		ID string `json:"id"`
	}
	exchanges := []exchange{
		{name: "create", method: http.MethodPost, path: "/projects/p1/tasks", token: user, validRequest: true,
			body:   `{"title":"Write the docs","priority":2,"labels":["docs"],"assignee":"ann@example.com","due":"2030-01-02T03:04:05Z"}`,
			status: http.StatusCreated, check: func(t *testing.T, b []byte) {
				if err := json.Unmarshal(b, &created); err != nil || created.ID == "" {
					t.Fatalf("created: %s", b)
				}
			}},
		{name: "create, minimal", method: http.MethodPost, path: "/projects/p1/tasks", token: user, validRequest: true,
			body: `{"title":"Fix","priority":5,"status":"on hold"}`, status: http.StatusCreated},
		{name: "422", method: http.MethodPost, path: "/projects/p1/tasks", token: user,
			body: `{"title":"no","priority":9,"status":"later","labels":[""]}`, status: http.StatusUnprocessableEntity,
			check: func(t *testing.T, b []byte) {
				var p httpx.Problem
				if err := json.Unmarshal(b, &p); err != nil || p.Code != httpx.CodeValidation || len(p.Errors) != 4 {
					t.Errorf("422 body: %s", b)
				}
			}},
		{name: "400", method: http.MethodPost, path: "/projects/p1/tasks", token: user,
			body: `{"title":`, status: http.StatusBadRequest},
		{name: "401", method: http.MethodPost, path: "/projects/p1/tasks",
			body: `{"title":"Write the docs","priority":2}`, status: http.StatusUnauthorized,
			check: func(t *testing.T, b []byte) {
				if !strings.Contains(string(b), `"code":"unauthorized"`) {
					t.Errorf("401 body: %s", b)
				}
			}},
		{name: "401, bad token", method: http.MethodGet, path: "/projects/p1/tasks", token: "not.a.token",
			validRequest: true, status: http.StatusUnauthorized}, // the document cannot tell a bad token
		{name: "list", method: http.MethodGet, path: "/projects/p1/tasks?status=open&limit=10", token: user, validRequest: true,
			status: http.StatusOK, check: func(t *testing.T, b []byte) {
				if !strings.Contains(string(b), "Write the docs") {
					t.Errorf("list: %s", b)
				}
			}},
		{name: "get", method: http.MethodGet, token: user, validRequest: true, status: http.StatusOK},
		{name: "404", method: http.MethodGet, path: "/projects/p2/tasks/00000000-0000-4000-8000-000000000009", token: user,
			validRequest: true, status: http.StatusNotFound},
		{name: "403", method: http.MethodDelete, token: user, validRequest: true, status: http.StatusForbidden},
		{name: "delete", method: http.MethodDelete, token: admin, validRequest: true, status: http.StatusNoContent},
		{name: "stats, no Doc", method: http.MethodGet, path: "/admin/stats/daily", validRequest: true, status: http.StatusOK},
		{name: "version, no Doc", method: http.MethodGet, path: "/version", validRequest: true, status: http.StatusOK},
		{name: "livez", method: http.MethodGet, path: "/livez", validRequest: true, status: http.StatusOK},
		{name: "readyz", method: http.MethodGet, path: "/readyz", validRequest: true, status: http.StatusOK},
	}
	for _, x := range exchanges {
		switch x.name {
		case "get":
			x.path = "/projects/p1/tasks/" + created.ID
		case "403", "delete":
			x.path = "/admin/tasks/" + created.ID
		}
		roundTrip(t, s, router, x)
	}
}

func roundTrip(t *testing.T, s *sample, router routers.Router, x exchange) {
	t.Helper()
	req := httptest.NewRequest(x.method, x.path, strings.NewReader(x.body))
	if x.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if x.token != "" {
		req.Header.Set("Authorization", "Bearer "+x.token)
	}
	route, pathParams, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s: %s %s is not in the document: %v", x.name, x.method, x.path, err)
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			if _, ok := strings.CutPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer "); !ok {
				return errors.New("no bearer token")
			}
			return nil
		},
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams, Route: route, Options: opts}
	err = openapi3filter.ValidateRequest(context.Background(), in)
	if x.validRequest && err != nil {
		t.Errorf("%s: the request does not conform: %v", x.name, err)
	}
	if !x.validRequest && err == nil {
		t.Errorf("%s: the request conforms to the document, but the server refuses it", x.name)
	}
	// ValidateRequest read the body: give the server a fresh one.
	req.Body = io.NopCloser(strings.NewReader(x.body))

	rec := httptest.NewRecorder()
	s.server.Echo.ServeHTTP(rec, req)
	body := rec.Body.Bytes()
	if rec.Code != x.status {
		t.Fatalf("%s: status %d, want %d: %s", x.name, rec.Code, x.status, body)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: rec.Code, Header: rec.Header(), Options: opts,
	}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s: the %d response does not conform: %v\n%s", x.name, rec.Code, err, body)
	}
	if x.check != nil {
		x.check(t, body)
	}
}

// The check above is not vacuous: a response that breaks the document is
// refused.
func TestRoundTripCatchesDrift(t *testing.T) {
	t.Parallel()
	s := newSample(t)
	doc := load(t, s.doc.JSON())
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/projects/p1/tasks", nil)
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	for _, bad := range []struct {
		status int
		ct     string
		body   string
	}{
		{http.StatusOK, "application/json", `{"items":[{"id":1}]}`},
		{http.StatusUnprocessableEntity, httpx.ProblemContentType, `{"type":"about:blank","title":"x","status":422}`},
		{http.StatusUnauthorized, httpx.ProblemContentType, `{"title":"x"}`},
	} {
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: bad.status,
			Header: http.Header{"Content-Type": {bad.ct}}, Options: in.Options}
		out.SetBodyBytes(bytes.Clone([]byte(bad.body)))
		if err := openapi3filter.ValidateResponse(context.Background(), out); err == nil {
			t.Errorf("%d %s passes", bad.status, bad.body)
		}
	}
}
