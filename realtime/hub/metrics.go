package hub

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	refusals    *prometheus.CounterVec
	connections prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, backend string) (*metrics, error) {
	m := &metrics{
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "realtime_refusals_total",
			Help:        "Connections, subscriptions and publications refused or closed by a limit or a check, by reason.",
			ConstLabels: prometheus.Labels{"backend": backend},
		}, []string{"reason"}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "realtime_connections",
			Help:        "Client connections open on this instance (in-process subscriptions excluded).",
			ConstLabels: prometheus.Labels{"backend": backend},
		}),
	}
	for _, c := range []prometheus.Collector{m.refusals, m.connections} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			switch c.(type) {
			case *prometheus.CounterVec:
				m.refusals = are.ExistingCollector.(*prometheus.CounterVec)
			default:
				m.connections = are.ExistingCollector.(prometheus.Gauge)
			}
		}
	}
	return m, nil
}
