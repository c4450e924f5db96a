package observe

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
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

// NewMeterProvider returns an OpenTelemetry MeterProvider whose
// instruments are exported through reg, so metrics from libraries
// instrumented with OpenTelemetry (rueidisotel, gorm's plugin) are scraped
// at /metrics with the rest. Shut it down at stop.
func NewMeterProvider(reg prometheus.Registerer) (*sdkmetric.MeterProvider, error) {
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutTargetInfo(), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("observe: OpenTelemetry metrics bridge: %w", err)
	}
	return sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)), nil
}

func newMeterProvider(lc fx.Lifecycle, reg prometheus.Registerer) (metric.MeterProvider, error) {
	mp, err := NewMeterProvider(reg)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(mp.Shutdown))
	return mp, nil
}
