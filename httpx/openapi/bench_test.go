package openapi_test

import (
	"testing"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/httpx/openapi"
)

// BenchmarkNew is the start-time cost of generating the sample app's
// document (13 operations, validate rules, security, problems), encoded as
// JSON and YAML.
func BenchmarkNew(b *testing.B) {
	s := newSample(b)
	p := openapi.Params{Config: s.cfg.OpenAPI, Info: app.Info{Name: "tasks", Version: "1"}, Echo: s.server.Echo, Groups: s.groups,
		Docs: openapi.InternalDocs(s.cfg.Health, "")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := openapi.New(p); err != nil {
			b.Fatal(err)
		}
	}
}
