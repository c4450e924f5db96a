package openapi

import (
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/swaggest/jsonschema-go"
)

// validateTags is a jsonschema-go property interceptor: it turns the
// go-playground/validator rules of a field's `validate:` tag into schema
// constraints. Rules it has no schema for (cross-field rules such as
// required_if or eqfield, custom rules) are left out: the document is
// then laxer than the server, never stricter, except that a rule on a
// field marked omitempty is documented as "the zero value, or ...".
func validateTags(p jsonschema.InterceptPropParams) error {
	if !p.Processed || p.PropertySchema == nil {
		return nil
	}
	tag := p.Field.Tag.Get("validate")
	if tag == "" || tag == "-" {
		return nil
	}
	own, item := splitDive(tag)
	ft := p.Field.Type
	t := deref(ft)
	if hasRule(tag, "required") && !hasRule(own, "omitempty") && p.ParentSchema != nil && !slices.Contains(p.ParentSchema.Required, p.Name) {
		p.ParentSchema.Required = append(p.ParentSchema.Required, p.Name)
	}
	constrain(p.PropertySchema, t, own, ft.Kind() == reflect.Pointer)
	if item == "" {
		return nil
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if it := p.PropertySchema.Items; it != nil && it.SchemaOrBool != nil && it.SchemaOrBool.TypeObject != nil {
			constrain(it.SchemaOrBool.TypeObject, deref(t.Elem()), item, t.Elem().Kind() == reflect.Pointer)
		}
	case reflect.Map:
		if ap := p.PropertySchema.AdditionalProperties; ap != nil && ap.TypeObject != nil {
			constrain(ap.TypeObject, deref(t.Elem()), item, t.Elem().Kind() == reflect.Pointer)
		}
	}
	return nil
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// splitDive splits a validate tag at its first "dive": the field's own
// rules and the rules of its elements.
func splitDive(tag string) (own, item string) {
	rules := strings.Split(tag, ",")
	for i, r := range rules {
		if r == "dive" {
			rest := rules[i+1:]
			// keys...endkeys rules apply to map keys: not documented.
			if len(rest) > 0 && rest[0] == "keys" {
				if j := slices.Index(rest, "endkeys"); j >= 0 {
					rest = rest[j+1:]
				} else {
					rest = nil
				}
			}
			return strings.Join(rules[:i], ","), strings.Join(rest, ",")
		}
	}
	return tag, ""
}

// hasRule reports whether the tag's own rules include name.
func hasRule(tag, name string) bool {
	own, _ := splitDive(tag)
	for _, r := range strings.Split(own, ",") {
		if r == name {
			return true
		}
	}
	return false
}

// formats maps validator rules to JSON Schema formats.
var formats = map[string]string{
	"email": "email", "url": "uri", "http_url": "uri", "uri": "uri", "uuid": "uuid", "uuid3": "uuid",
	"uuid4": "uuid", "uuid5": "uuid", "uuid_rfc4122": "uuid", "uuid4_rfc4122": "uuid",
	"ipv4": "ipv4", "ip4_addr": "ipv4", "ipv6": "ipv6", "ip6_addr": "ipv6", "hostname": "hostname",
	"hostname_rfc1123": "hostname", "fqdn": "hostname",
}

// patterns maps validator rules to regular expressions of the same strings.
var patterns = map[string]string{
	"alpha":        "^[a-zA-Z]+$",
	"alphanum":     "^[a-zA-Z0-9]+$",
	"numeric":      "^[-+]?[0-9]+(?:\\.[0-9]+)?$",
	"number":       "^[0-9]+$",
	"hexadecimal":  "^(0[xX])?[0-9a-fA-F]+$",
	"e164":         "^\\+[1-9]?[0-9]{7,14}$",
	"lowercase":    "^[^A-Z]*$",
	"uppercase":    "^[^a-z]*$",
	"semver":       "^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-[0-9A-Za-z.-]+)?(?:\\+[0-9A-Za-z.-]+)?$",
	"hexcolor":     "^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$",
	"base64":       "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
	"jwt":          "^[A-Za-z0-9_-]{2,}(?:\\.[A-Za-z0-9_-]{2,}){2}$",
	"ascii":        "^[\\x00-\\x7F]*$",
	"printascii":   "^[\\x20-\\x7E]*$",
	"alphaunicode": "^[\\p{L}]+$",
}

// constrain adds the rules to s, for a value of type t (behind a pointer
// when ptr). With omitempty, the zero value is accepted as the validator
// does — null for a pointer, "" or 0 otherwise: the rules then go under
// anyOf next to a const of the zero value.
func constrain(s *jsonschema.Schema, t reflect.Type, rules string, ptr bool) {
	var c jsonschema.Schema
	omitempty := false
	added := false
	for _, r := range splitRules(rules) {
		name, param, _ := strings.Cut(r, "=")
		if name == "omitempty" {
			omitempty = true
			continue
		}
		if rule(&c, t, name, param) {
			added = true
		}
	}
	if !added {
		return
	}
	var zero any
	hasZero := true
	switch {
	case ptr:
		zero = nil
	case t.Kind() == reflect.String:
		zero = ""
	case numberKind(t.Kind()):
		zero = 0
	default:
		hasZero = false // a slice or map: omitempty skips only nil (null), which its type allows
	}
	if omitempty && hasZero {
		s.AnyOf = append(s.AnyOf, (&jsonschema.Schema{}).WithConst(zero).ToSchemaOrBool(), c.ToSchemaOrBool())
		return
	}
	merge(s, &c)
}

// splitRules splits rules at commas; a rule with "|" alternatives is
// dropped, since it cannot be documented as one constraint.
func splitRules(rules string) []string {
	var out []string
	for _, r := range strings.Split(rules, ",") {
		if r != "" && !strings.Contains(r, "|") {
			out = append(out, r)
		}
	}
	return out
}

// rule adds one validator rule to c and reports whether it did.
func rule(c *jsonschema.Schema, t reflect.Type, name, param string) bool {
	kind := t.Kind()
	isString := kind == reflect.String
	isNumber := !isString && numberKind(kind)
	isList := kind == reflect.Slice || kind == reflect.Array
	isMap := kind == reflect.Map
	n, numErr := strconv.ParseFloat(param, 64)
	count := int64(n)
	if t == durationType && param != "" {
		// A time.Duration rule (gt=1s) compares nanoseconds, its JSON.
		d, err := time.ParseDuration(param)
		n, count, numErr = float64(d), int64(d), err
	}
	switch name {
	case "required":
		if isString {
			if c.MinLength == 0 {
				c.MinLength = 1
			}
			return true
		}
		return false
	case "min", "gte", "max", "lte", "len", "gt", "lt", "eq":
		if name == "eq" && isString {
			c.WithConst(param)
			return true
		}
		if numErr != nil {
			return false
		}
		switch {
		case isString:
			return lengths(name, count, func(v int64) { c.MinLength = v }, func(v int64) { c.WithMaxLength(v) })
		case isList:
			return lengths(name, count, func(v int64) { c.WithMinItems(v) }, func(v int64) { c.WithMaxItems(v) })
		case isMap:
			return lengths(name, count, func(v int64) { c.WithMinProperties(v) }, func(v int64) { c.WithMaxProperties(v) })
		case isNumber:
			switch name {
			case "min", "gte":
				c.WithMinimum(n)
			case "max", "lte":
				c.WithMaximum(n)
			case "gt":
				c.WithExclusiveMinimum(n)
			case "lt":
				c.WithExclusiveMaximum(n)
			case "len", "eq":
				c.WithConst(n)
			}
			return true
		}
		return false
	case "oneof":
		values := oneofValues(param)
		enum := make([]any, 0, len(values))
		for _, v := range values {
			switch {
			case isString:
				enum = append(enum, v)
			case isNumber:
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return false
				}
				enum = append(enum, f)
			default:
				return false
			}
		}
		c.WithEnum(enum...)
		return true
	case "datetime":
		if !isString {
			return false
		}
		switch param {
		case "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05.999999999Z07:00":
			c.WithFormat("date-time")
		case "2006-01-02":
			c.WithFormat("date")
		case "15:04:05":
			c.WithFormat("time")
		default:
			return false
		}
		return true
	case "startswith", "endswith", "contains":
		if !isString || param == "" {
			return false
		}
		q := regexp.QuoteMeta(param)
		switch name {
		case "startswith":
			q = "^" + q
		case "endswith":
			q += "$"
		}
		addPattern(c, q)
		return true
	}
	if !isString {
		return false
	}
	if f, ok := formats[name]; ok {
		c.WithFormat(f)
		return true
	}
	if p, ok := patterns[name]; ok {
		addPattern(c, p)
		return true
	}
	return false
}

// lengths applies a length rule through min and max; eq on a length (a
// slice's eq=3 compares its length) is both.
func lengths(name string, n int64, minFn, maxFn func(int64)) bool {
	switch name {
	case "min", "gte":
		minFn(n)
	case "max", "lte":
		maxFn(n)
	case "gt":
		minFn(n + 1)
	case "lt":
		maxFn(max(n-1, 0))
	case "len", "eq":
		minFn(n)
		maxFn(n)
	}
	return true
}

func numberKind(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
		reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

var durationType = reflect.TypeFor[time.Duration]()

// oneofValues splits oneof's parameter at spaces, keeping 'quoted values'
// whole, as the validator does.
func oneofValues(param string) []string {
	var out []string
	for _, m := range oneofRE.FindAllStringSubmatch(param, -1) {
		if m[1] != "" {
			out = append(out, m[1])
		} else {
			out = append(out, m[2])
		}
	}
	return out
}

var oneofRE = regexp.MustCompile(`'([^']*)'|(\S+)`)

func addPattern(c *jsonschema.Schema, p string) {
	if c.Pattern == nil {
		c.WithPattern(p)
		return
	}
	c.AllOf = append(c.AllOf, (&jsonschema.Schema{}).WithPattern(p).ToSchemaOrBool())
}

// merge copies the constraints set in c onto s.
func merge(s, c *jsonschema.Schema) {
	if c.MinLength > 0 {
		s.MinLength = c.MinLength
	}
	if c.MaxLength != nil {
		s.MaxLength = c.MaxLength
	}
	if c.MinItems > 0 {
		s.MinItems = c.MinItems
	}
	if c.MaxItems != nil {
		s.MaxItems = c.MaxItems
	}
	if c.MinProperties > 0 {
		s.MinProperties = c.MinProperties
	}
	if c.MaxProperties != nil {
		s.MaxProperties = c.MaxProperties
	}
	if c.Minimum != nil {
		s.Minimum = c.Minimum
	}
	if c.Maximum != nil {
		s.Maximum = c.Maximum
	}
	if c.ExclusiveMinimum != nil {
		s.ExclusiveMinimum = c.ExclusiveMinimum
	}
	if c.ExclusiveMaximum != nil {
		s.ExclusiveMaximum = c.ExclusiveMaximum
	}
	if c.Const != nil {
		s.Const = c.Const
	}
	if c.Enum != nil {
		enum := c.Enum
		if s.HasType(jsonschema.Null) {
			enum = append(enum, nil)
		}
		s.Enum = enum
	}
	if c.Format != nil {
		s.Format = c.Format
	}
	if c.Pattern != nil {
		if s.Pattern == nil {
			s.Pattern = c.Pattern
		} else {
			s.AllOf = append(s.AllOf, (&jsonschema.Schema{}).WithPattern(*c.Pattern).ToSchemaOrBool())
		}
	}
	s.AllOf = append(s.AllOf, c.AllOf...)
}
