package observe

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/fx"
)

// collectorGroup is the fx value group of collectors registered at start.
const collectorGroup = "observe.collectors"

// AsCollector annotates a constructor of a prometheus.Collector so that
// the observe module registers its result with the app's registry:
//
//	fx.Provide(observe.AsCollector(newQueueMetrics))
//
// A collector that cannot be registered (a duplicate metric name) stops
// the app at start.
func AsCollector(constructor any) any {
	return fx.Annotate(constructor, fx.As(new(prometheus.Collector)), fx.ResultTags(`group:"`+collectorGroup+`"`))
}

// NewRegistry returns a registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
