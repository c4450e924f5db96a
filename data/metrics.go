package data

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/apexgo/apex/httpx"
)

var (
	descOpen     = prometheus.NewDesc("apex_data_pool_connections", "Connections of the pool by state (in_use, idle).", []string{"database", "state"}, nil)
	descMaxOpen  = prometheus.NewDesc("apex_data_pool_max_open", "The pool's maximum number of open connections.", []string{"database"}, nil)
	descWait     = prometheus.NewDesc("apex_data_pool_wait_total", "Times a caller waited for a connection.", []string{"database"}, nil)
	descWaitTime = prometheus.NewDesc("apex_data_pool_wait_seconds_total", "Time spent waiting for a connection.", []string{"database"}, nil)
	descClosed   = prometheus.NewDesc("apex_data_pool_closed_total", "Connections closed, by reason (max_idle, max_idle_time, max_lifetime).", []string{"database", "reason"}, nil)

	descTenantOpen        = prometheus.NewDesc("apex_data_tenant_pools_open", "Tenant pools open now.", nil, nil)
	descTenantOpens       = prometheus.NewDesc("apex_data_tenant_opens_total", "Tenant pools opened.", nil, nil)
	descTenantEvict       = prometheus.NewDesc("apex_data_tenant_evictions_total", "Tenant pools closed as least recently used, idle past idle_ttl, or at stop.", nil, nil)
	descTenantFailures    = prometheus.NewDesc("apex_data_tenant_resolve_failures_total", "Tenant resolver failures (unknown tenants excluded).", nil, nil)
	descTenantUnknown     = prometheus.NewDesc("apex_data_tenant_unknown_total", "Resolves or opens that found the tenant does not exist.", nil, nil)
	descTenantUnknownHits = prometheus.NewDesc("apex_data_tenant_unknown_cache_hits_total", "Requests for tenants found not to exist less than data.tenancy.unknown_ttl ago, answered from the cache.", nil, nil)
)

// Describe implements prometheus.Collector: pool statistics of the
// primary and named databases, labelled by database, and counts of
// tenant pools.
func (d *Databases) Describe(ch chan<- *prometheus.Desc) {
	for _, desc := range []*prometheus.Desc{descOpen, descMaxOpen, descWait, descWaitTime, descClosed,
		descTenantOpen, descTenantOpens, descTenantEvict, descTenantFailures, descTenantUnknown, descTenantUnknownHits} {
		ch <- desc
	}
}

// Collect implements prometheus.Collector.
func (d *Databases) Collect(ch chan<- prometheus.Metric) {
	collect := func(name string, db *gorm.DB) {
		sqlDB, err := db.DB()
		if err != nil {
			return
		}
		s := sqlDB.Stats()
		ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(s.InUse), name, "in_use")
		ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(s.Idle), name, "idle")
		ch <- prometheus.MustNewConstMetric(descMaxOpen, prometheus.GaugeValue, float64(s.MaxOpenConnections), name)
		ch <- prometheus.MustNewConstMetric(descWait, prometheus.CounterValue, float64(s.WaitCount), name)
		ch <- prometheus.MustNewConstMetric(descWaitTime, prometheus.CounterValue, s.WaitDuration.Seconds(), name)
		ch <- prometheus.MustNewConstMetric(descClosed, prometheus.CounterValue, float64(s.MaxIdleClosed), name, "max_idle")
		ch <- prometheus.MustNewConstMetric(descClosed, prometheus.CounterValue, float64(s.MaxIdleTimeClosed), name, "max_idle_time")
		ch <- prometheus.MustNewConstMetric(descClosed, prometheus.CounterValue, float64(s.MaxLifetimeClosed), name, "max_lifetime")
	}
	collect("primary", d.primary)
	for _, name := range d.names() {
		collect(name, d.named[name])
	}
	if d.tenants != nil {
		st := d.tenants.stats()
		ch <- prometheus.MustNewConstMetric(descTenantOpen, prometheus.GaugeValue, float64(st.Open))
		ch <- prometheus.MustNewConstMetric(descTenantOpens, prometheus.CounterValue, float64(st.Opens))
		ch <- prometheus.MustNewConstMetric(descTenantEvict, prometheus.CounterValue, float64(st.Evictions))
		ch <- prometheus.MustNewConstMetric(descTenantFailures, prometheus.CounterValue, float64(st.ResolveFailures))
		ch <- prometheus.MustNewConstMetric(descTenantUnknown, prometheus.CounterValue, float64(st.Unknown))
		ch <- prometheus.MustNewConstMetric(descTenantUnknownHits, prometheus.CounterValue, float64(st.UnknownCacheHits))
	}
}

// HealthChecks returns one readiness check per database opened at start:
// "data.primary" and "data.<name>", each a ping.
func (d *Databases) HealthChecks() []httpx.HealthCheck {
	checks := []httpx.HealthCheck{pingCheck("data.primary", d.primary)}
	for _, name := range d.names() {
		checks = append(checks, pingCheck("data."+name, d.named[name]))
	}
	return checks
}

func pingCheck(name string, db *gorm.DB) httpx.HealthCheck {
	return httpx.CheckFunc(name, func(ctx context.Context) error {
		sqlDB, err := db.DB()
		if err != nil {
			return err
		}
		return sqlDB.PingContext(ctx)
	})
}
