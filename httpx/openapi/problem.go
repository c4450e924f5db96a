package openapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/swaggest/openapi-go/openapi31"

	"github.com/apexgo/apex/httpx"
)

// The component schemas of apex's error bodies.
const (
	// ProblemSchema is an RFC 9457 problem details body (httpx.Problem).
	ProblemSchema = "Problem"
	// ValidationProblemSchema is a 422 problem, with its field errors.
	ValidationProblemSchema = "ValidationProblem"
	// FieldErrorSchema is one invalid field of a 422 (httpx.FieldError).
	FieldErrorSchema = "FieldError"
)

const schemaRef = "#/components/schemas/"

// addProblemSchemas adds the problem schemas, written by hand so that they
// say what httpx.Problem's fields mean on the wire.
func addProblemSchemas(s *openapi31.Spec) {
	codes := []string{httpx.CodeBadRequest, httpx.CodeUnauthorized, httpx.CodeInvalidToken, httpx.CodeForbidden,
		httpx.CodeInsufficientScope, httpx.CodeNotFound, httpx.CodeTenantUnknown, httpx.CodeMethodNotAllowed,
		httpx.CodeConflict, httpx.CodeBodyTooLarge, httpx.CodeValidation, httpx.CodeRateLimited,
		httpx.CodeClientClosed, httpx.CodeInternal, httpx.CodeUnavailable, httpx.CodeTimeout, httpx.CodeError}
	c := s.ComponentsEns()
	c.WithSchemasItem(ProblemSchema, map[string]any{
		"type":        "object",
		"description": "An RFC 9457 problem details body, the answer to every error (`application/problem+json`).",
		"required":    []string{"type", "title", "status"},
		"properties": map[string]any{
			"type":     map[string]any{"type": "string", "description": "A URI naming the problem kind; `about:blank` when the status says it all.", "examples": []string{"about:blank"}},
			"title":    map[string]any{"type": "string", "description": "A short summary of the problem kind; by default the status text.", "examples": []string{"Not Found"}},
			"status":   map[string]any{"type": "integer", "minimum": 100, "maximum": 599, "description": "The HTTP status code."},
			"detail":   map[string]any{"type": "string", "description": "What went wrong with this request, for a human."},
			"instance": map[string]any{"type": "string", "description": "The request path."},
			"request_id": map[string]any{"type": "string",
				"description": "The request's ID (X-Request-ID), which ties the response to the server's logs."},
			"code": map[string]any{"type": "string",
				"description": "A stable, machine-readable name of the problem kind, for clients to switch on instead of parsing `detail`. apex's own: `" +
					strings.Join(codes, "`, `") + "`; an app may add its own.",
				"examples": []string{httpx.CodeNotFound}},
			"errors": map[string]any{"type": "array", "description": "The invalid fields (422).",
				"items": map[string]any{"$ref": schemaRef + FieldErrorSchema}},
		},
	})
	c.WithSchemasItem(FieldErrorSchema, map[string]any{
		"type":     "object",
		"required": []string{"field", "message"},
		"properties": map[string]any{
			"field":   map[string]any{"type": "string", "description": "The JSON path of the field.", "examples": []string{"items[0].name"}},
			"message": map[string]any{"type": "string", "description": "What is wrong with it.", "examples": []string{"is required"}},
		},
	})
	c.WithSchemasItem(ValidationProblemSchema, map[string]any{
		"description": "A 422 problem: the request was understood but some fields are invalid; `errors` lists each one.",
		"allOf": []any{
			map[string]any{"$ref": schemaRef + ProblemSchema},
			map[string]any{
				"type":     "object",
				"required": []string{"errors"},
				"properties": map[string]any{
					"status": map[string]any{"const": http.StatusUnprocessableEntity},
					"code":   map[string]any{"const": httpx.CodeValidation},
					"errors": map[string]any{"minItems": 1},
				},
			},
		},
	})
}

// problemText says when apex answers each status it documents on its own.
var problemText = map[int]string{
	http.StatusBadRequest:            "The request could not be read: a malformed body or a parameter of the wrong type.",
	http.StatusUnauthorized:          "No valid bearer token: missing, malformed, expired or revoked (see `WWW-Authenticate`).",
	http.StatusForbidden:             "The token lacks a required role or permission, or belongs to another tenant.",
	http.StatusRequestEntityTooLarge: "The request body is larger than http.body_limit.",
	http.StatusUnprocessableEntity:   "Some fields are invalid; `errors` lists each one.",
	http.StatusInternalServerError:   "An unexpected error; the details are in the server's logs under `request_id`.",
	http.StatusServiceUnavailable:    "A dependency is unavailable or the request timed out; retry after `Retry-After` when sent.",
	0:                                "Any other error, as a problem: 404, 405, 409, 429 and the statuses the app maps its errors to.",
}

// addProblems documents the problem responses of op: those apex itself
// may answer with, those listed in extra, and any other error as the
// default response. A status the Doc documents with a body is left alone.
// The problem responses are components, referred to by every operation.
func addProblems(spec *openapi31.Spec, op *openapi31.Operation, method string, d httpx.Doc, extra map[int]bool) {
	statuses := map[int]bool{http.StatusInternalServerError: true, http.StatusServiceUnavailable: true}
	if d.Request != nil {
		statuses[http.StatusBadRequest] = true
		statuses[http.StatusUnprocessableEntity] = true
		if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
			statuses[http.StatusRequestEntityTooLarge] = true
		}
	}
	if d.Security != nil {
		statuses[http.StatusUnauthorized] = true
		statuses[http.StatusForbidden] = true
	}
	for s := range extra {
		statuses[s] = true
	}
	rs := op.ResponsesEns()
	if rs.MapOfResponseOrReferenceValues == nil {
		rs.MapOfResponseOrReferenceValues = map[string]openapi31.ResponseOrReference{}
	}
	for s := range statuses {
		key := strconv.Itoa(s)
		if _, documented := rs.MapOfResponseOrReferenceValues[key]; documented {
			continue
		}
		rs.MapOfResponseOrReferenceValues[key] = problemRef(spec, s)
	}
	ref := problemRef(spec, 0)
	rs.Default = &ref
}

// problemRef returns a reference to the problem response of status (0:
// the default response), adding the component on first use.
func problemRef(spec *openapi31.Spec, status int) openapi31.ResponseOrReference {
	name := "Problem"
	if status != 0 {
		name += strconv.Itoa(status)
	}
	c := spec.ComponentsEns()
	if _, ok := c.Responses[name]; !ok {
		text := problemText[status]
		if text == "" {
			text = http.StatusText(status) + "."
		}
		if c.Responses == nil {
			c.Responses = map[string]openapi31.ResponseOrReference{}
		}
		c.Responses[name] = openapi31.ResponseOrReference{Response: problemResponse(status, text)}
	}
	return openapi31.ResponseOrReference{Reference: &openapi31.Reference{Ref: "#/components/responses/" + name}}
}

func problemResponse(status int, text string) *openapi31.Response {
	schema := ProblemSchema
	if status == http.StatusUnprocessableEntity {
		schema = ValidationProblemSchema
	}
	r := &openapi31.Response{
		Description: text,
		Content: map[string]openapi31.MediaType{
			httpx.ProblemContentType: {Schema: map[string]any{"$ref": schemaRef + schema}},
		},
	}
	header := func(name, desc string) {
		if r.Headers == nil {
			r.Headers = map[string]openapi31.HeaderOrReference{}
		}
		r.Headers[name] = openapi31.HeaderOrReference{Header: &openapi31.Header{
			Description: &desc, Schema: map[string]any{"type": "string"},
		}}
	}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		header("WWW-Authenticate", "The Bearer challenge (RFC 6750), with error=\"invalid_token\" or \"insufficient_scope\" when that is the cause.")
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		header("Retry-After", "Seconds to wait before retrying.")
	}
	return r
}
