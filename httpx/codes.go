package httpx

import "net/http"

// The stable values of [Problem.Code] that apex itself answers with. A
// client switches on them; the Detail text may change between releases.
// docs/httpx.md lists which module answers which.
const (
	CodeBadRequest        = "bad_request"        // 400, malformed request
	CodeUnauthorized      = "unauthorized"       // 401, no credentials
	CodeInvalidToken      = "invalid_token"      // 401, a bad, expired or revoked token
	CodeForbidden         = "forbidden"          // 403
	CodeInsufficientScope = "insufficient_scope" // 403, a role or scope is missing
	CodeNotFound          = "not_found"          // 404
	CodeTenantUnknown     = "tenant_unknown"     // 404, no such tenant
	CodeMethodNotAllowed  = "method_not_allowed" // 405
	CodeConflict          = "conflict"           // 409, e.g. a unique violation
	CodeBodyTooLarge      = "body_too_large"     // 413
	CodeValidation        = "validation_failed"  // 422, see Problem.Errors
	CodeRateLimited       = "rate_limited"       // 429, see Retry-After
	CodeClientClosed      = "client_closed"      // 499, the client went away
	CodeInternal          = "internal"           // 500
	CodeUnavailable       = "unavailable"        // 503, a dependency is down; see Retry-After
	CodeTimeout           = "timeout"            // 503, the request took too long
	CodeError             = "error"              // any other status
)

// CodeFor returns the default [Problem.Code] of an HTTP status.
func CodeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return CodeBadRequest
	case http.StatusUnauthorized:
		return CodeUnauthorized
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusMethodNotAllowed:
		return CodeMethodNotAllowed
	case http.StatusConflict:
		return CodeConflict
	case http.StatusRequestEntityTooLarge:
		return CodeBodyTooLarge
	case http.StatusUnprocessableEntity:
		return CodeValidation
	case http.StatusTooManyRequests:
		return CodeRateLimited
	case StatusClientClosedRequest:
		return CodeClientClosed
	case http.StatusInternalServerError:
		return CodeInternal
	case http.StatusServiceUnavailable:
		return CodeUnavailable
	}
	return CodeError
}
