package openapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/httpx/openapi"
)

type nested struct {
	Code string `json:"code" validate:"required,len=2"`
}

type rules struct {
	S1  string            `json:"s1" validate:"required"`
	S2  string            `json:"s2" validate:"gt=2,lt=5"`
	S3  string            `json:"s3" validate:"len=4"`
	S4  string            `json:"s4" validate:"eq=x"`
	S5  string            `json:"s5" validate:"datetime=2006-01-02"`
	S6  string            `json:"s6" validate:"startswith=a.b"`
	S7  string            `json:"s7" validate:"alpha,endswith=z"`
	S8  string            `json:"s8" validate:"email|url"`
	S9  string            `json:"s9" validate:"uuid4"`
	S10 string            `json:"s10" validate:"required_if=S1 x,custom_rule"`
	N1  int               `json:"n1" validate:"gt=0,lt=10"`
	N2  float64           `json:"n2" validate:"oneof=1.5 2.5"`
	N3  uint8             `json:"n3" validate:"len=3"`
	D   time.Duration     `json:"d" validate:"gte=1s"`
	L   []int             `json:"l" validate:"gt=0,dive,gte=1"`
	M   map[string]string `json:"m" validate:"max=3,dive,keys,min=1,endkeys,email"`
	P   *string           `json:"p,omitempty" validate:"omitempty,oneof=a b"`
	Q   *int              `json:"q" validate:"required,min=1"`
	N   nested            `json:"n"`
}

// The validate rules of every kind become the constraints the table in
// docs/openapi.md lists; rules with no schema equivalent are left out.
func TestValidateRules(t *testing.T) {
	t.Parallel()
	e := echo.New()
	routes := []httpx.Route{{Method: http.MethodPost, Path: "/rules", Handler: func(echo.Context) error { return nil },
		Doc: httpx.Doc{Request: rules{}}}}
	if err := httpx.Register(e, nil, routes); err != nil {
		t.Fatal(err)
	}
	d, err := openapi.New(openapi.Params{Echo: e, Routes: routes, Config: httpx.DefaultConfig().OpenAPI})
	if err != nil {
		t.Fatal(err)
	}
	load(t, d.JSON())
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Required   []string                   `json:"required"`
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(d.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	r := doc.Components.Schemas["Rules"]
	if got := r.Required; len(got) != 2 || got[0] != "s1" || got[1] != "q" {
		t.Errorf("required %v, want [s1 q]", got)
	}
	if got := doc.Components.Schemas["Nested"].Required; len(got) != 1 || got[0] != "code" {
		t.Errorf("nested required %v", got)
	}
	for prop, want := range map[string]string{
		"s1":  `{"minLength":1,"type":"string"}`,
		"s2":  `{"maxLength":4,"minLength":3,"type":"string"}`,
		"s3":  `{"maxLength":4,"minLength":4,"type":"string"}`,
		"s4":  `{"const":"x","type":"string"}`,
		"s5":  `{"format":"date","type":"string"}`,
		"s6":  `{"pattern":"^a\\.b","type":"string"}`,
		"s7":  `{"allOf":[{"pattern":"z$"}],"pattern":"^[a-zA-Z]+$","type":"string"}`,
		"s8":  `{"type":"string"}`,
		"s9":  `{"format":"uuid","type":"string"}`,
		"s10": `{"type":"string"}`,
		"n1":  `{"exclusiveMaximum":10,"exclusiveMinimum":0,"type":"integer"}`,
		"n2":  `{"enum":[1.5,2.5],"format":"double","type":"number"}`,
		"n3":  `{"const":3,"minimum":0,"type":"integer"}`,
		"d":   `{"$ref":"#/components/schemas/Duration","minimum":1000000000}`, // nanoseconds, next to the ref (3.1)
		"l":   `{"items":{"minimum":1,"type":"integer"},"minItems":1,"type":["array","null"]}`,
		"m":   `{"additionalProperties":{"format":"email","type":"string"},"maxProperties":3,"type":["object","null"]}`,
		"p":   `{"anyOf":[{"const":null},{"enum":["a","b"]}],"type":["null","string"]}`,
		"q":   `{"minimum":1,"type":["null","integer"]}`,
	} {
		var buf bytes.Buffer
		if err := json.Compact(&buf, r.Properties[prop]); err != nil {
			t.Fatal(err)
		}
		if got := buf.String(); got != want {
			t.Errorf("%s: %s\n  want %s", prop, buf.String(), want)
		}
	}
}
