package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"

	"github.com/apexgo/apex/internal/validation"
)

// ValidationError lists a request's invalid fields; it becomes a 422 problem.
type ValidationError struct {
	// Fields are the invalid fields, each with its message.
	Fields []FieldError
}

// Error lists the invalid fields.
func (e *ValidationError) Error() string {
	if len(e.Fields) == 0 {
		return "invalid request"
	}
	return "invalid request: " + e.Fields[0].Field + " " + e.Fields[0].Message
}

// Validator is echo's Validator backed by go-playground/validator, naming
// fields by their JSON names ("items[0].quantity").
type Validator struct{ v *validator.Validate }

// NewValidator returns a Validator.
func NewValidator() *Validator { return &Validator{v: validation.New("json")} }

// Engine returns the underlying validator, to register custom rules.
func (v *Validator) Engine() *validator.Validate { return v.v }

// Validate implements echo.Validator: nil, or a *ValidationError. A slice
// or array is validated element by element ("[2].name"); other values
// that are not structs have nothing to validate.
func (v *Validator) Validate(i any) error {
	rv := reflect.ValueOf(i)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Struct:
	case reflect.Slice, reflect.Array:
		var out []FieldError
		for n := range rv.Len() {
			err := v.Validate(rv.Index(n).Interface())
			var ve *ValidationError
			if errors.As(err, &ve) {
				for _, f := range ve.Fields {
					out = append(out, FieldError{Field: fmt.Sprintf("[%d].%s", n, f.Field), Message: f.Message})
				}
			} else if err != nil {
				return err
			}
		}
		if len(out) > 0 {
			return &ValidationError{Fields: out}
		}
		return nil
	default:
		return nil
	}
	err := v.v.Struct(i)
	if err == nil {
		return nil
	}
	fields := validation.Fields(err)
	if fields == nil {
		// Not a struct, or a rule misconfigured in the type: a server bug.
		return err
	}
	out := make([]FieldError, len(fields))
	for i, f := range fields {
		out[i] = FieldError{Field: f.Path, Message: f.Message}
	}
	return &ValidationError{Fields: out}
}

// Bind decodes the request (path, query and body, as echo's Bind does)
// into v and validates it. A body that cannot be decoded is a 400 problem,
// one over the body limit a 413, invalid fields a 422.
func Bind(c echo.Context, v any) error {
	if err := c.Bind(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) || errors.As(err, &tooLarge) {
			return NewProblem(http.StatusRequestEntityTooLarge, "the request body is too large")
		}
		var he *echo.HTTPError
		if errors.As(err, &he) && he.Code == http.StatusUnsupportedMediaType {
			return NewProblem(http.StatusUnsupportedMediaType, "the request body must be JSON, XML or a form")
		}
		p := NewProblem(http.StatusBadRequest, "the request body could not be decoded")
		if errors.As(err, &he) {
			if msg, ok := he.Message.(string); ok {
				p.Detail = msg
			}
		}
		p.Err = err
		return p
	}
	return c.Validate(v)
}
