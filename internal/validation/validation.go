// Package validation builds the go-playground validator that apex uses for
// config sections and request bodies, and turns its errors into messages
// that name fields the way the user wrote them (koanf or JSON names).
package validation

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"strings"

	"github.com/go-playground/validator/v10"
)

// Field is one failed rule: the field's path in the user's names and a
// message that never includes the value (it may be a secret).
type Field struct {
	Path    string
	Message string
}

// New returns a validator that reports field names from the given struct
// tag ("koanf", "json"), falling back to the Go field name.
func New(tag string) *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get(tag), ",")
		switch name {
		case "-":
			return ""
		case "":
			return f.Name
		}
		return name
	})
	_ = v.RegisterValidation("listen_addr", listenAddr)
	return v
}

// listenAddr accepts host:port where host may be empty and port is 0-65535.
func listenAddr(fl validator.FieldLevel) bool {
	_, port, err := net.SplitHostPort(fl.Field().String())
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

// Fields flattens a validator error into fields. The path drops the root
// struct name, so "Config.cors.max_age" becomes "cors.max_age". A nil or
// non-validator error yields nil.
func Fields(err error) []Field {
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return nil
	}
	out := make([]Field, 0, len(ves))
	for _, fe := range ves {
		path := fe.Namespace()
		if _, rest, ok := strings.Cut(path, "."); ok {
			path = rest
		}
		out = append(out, Field{Path: path, Message: Message(fe)})
	}
	return out
}

// Message describes a failed rule without repeating the value.
func Message(fe validator.FieldError) string {
	p := fe.Param()
	switch fe.Tag() {
	case "required", "required_if", "required_unless", "required_with", "required_without":
		return "is required"
	case "min", "gte":
		if isLength(fe.Kind()) {
			return "must have at least " + p + " " + unit(fe.Kind())
		}
		return "must be at least " + p
	case "max", "lte":
		if isLength(fe.Kind()) {
			return "must have at most " + p + " " + unit(fe.Kind())
		}
		return "must be at most " + p
	case "gt":
		return "must be greater than " + p
	case "lt":
		return "must be less than " + p
	case "len":
		return "must have exactly " + p + " " + unit(fe.Kind())
	case "oneof":
		return "must be one of: " + strings.Join(strings.Fields(p), ", ")
	case "email":
		return "must be a valid email address"
	case "url", "http_url":
		return "must be a URL"
	case "uuid", "uuid4":
		return "must be a UUID"
	case "listen_addr", "hostname_port":
		return "must be host:port (host may be empty)"
	case "alphanum":
		return "must contain only letters and digits"
	case "dive":
		return "has an invalid element"
	}
	if p != "" {
		return fmt.Sprintf("fails the %q rule (%s)", fe.Tag(), p)
	}
	return fmt.Sprintf("fails the %q rule", fe.Tag())
}

func isLength(k reflect.Kind) bool {
	return k == reflect.String || k == reflect.Slice || k == reflect.Map || k == reflect.Array
}

func unit(k reflect.Kind) string {
	if k == reflect.String {
		return "characters"
	}
	return "items"
}
