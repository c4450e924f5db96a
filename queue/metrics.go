package queue

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apexgo/apex/queue/port"
)

// Metrics counts what the queue does. A nil *Metrics counts nothing.
type Metrics struct {
	jobs     *prometheus.CounterVec   // kind, event
	wait     *prometheus.HistogramVec // queue: enqueue (or run time) → start
	runTime  *prometheus.HistogramVec // kind
	busyness *prometheus.GaugeVec     // queue
}

// NewMetrics returns the queue's metrics, registered with reg when reg is
// not nil:
//
//	apex_queue_jobs_total{kind,event}       enqueued, started, succeeded, failed, retrying, dead
//	apex_queue_wait_seconds{queue}          from due (enqueue or run time) to start
//	apex_queue_run_seconds{kind}            handler run time
//	apex_queue_worker_busy_ratio{queue}     running jobs / concurrency in this process
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
	m := &Metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "apex_queue_jobs_total",
			Help: "Jobs by kind and event: enqueued, started, succeeded, failed (attempts), retrying, dead."}, []string{"kind", "event"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "apex_queue_wait_seconds",
			Help: "Time from a job being due (enqueued or its run time) to its attempt starting.", Buckets: buckets}, []string{"queue"}),
		runTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "apex_queue_run_seconds",
			Help: "Handler run time per attempt.", Buckets: buckets}, []string{"kind"}),
		busyness: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "apex_queue_worker_busy_ratio",
			Help: "Running jobs over the queue's concurrency in this process."}, []string{"queue"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.jobs, m.wait, m.runTime, m.busyness} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *Metrics) enqueued(kind string) {
	if m != nil {
		m.jobs.WithLabelValues(kind, "enqueued").Inc()
	}
}

func (m *Metrics) started(kind, queue string, sinceEnqueue time.Duration, runAt time.Time) {
	if m == nil {
		return
	}
	m.jobs.WithLabelValues(kind, "started").Inc()
	wait := sinceEnqueue
	if !runAt.IsZero() {
		wait = time.Since(runAt)
	}
	m.wait.WithLabelValues(queue).Observe(max(wait, 0).Seconds())
}

func (m *Metrics) ran(kind string, d time.Duration) {
	if m != nil {
		m.runTime.WithLabelValues(kind).Observe(d.Seconds())
	}
}

func (m *Metrics) count(kind string, s State) {
	if m != nil {
		m.jobs.WithLabelValues(kind, string(s)).Inc()
	}
}

func (m *Metrics) busy(queue string, ratio float64) {
	if m != nil {
		m.busyness.WithLabelValues(queue).Set(ratio)
	}
}

// depthCollector reports the backend's queue sizes on each scrape:
// apex_queue_depth{queue,state} (ready, scheduled, running) and
// apex_queue_dead_letters{queue}.
type depthCollector struct {
	inspect port.Inspector
	queues  []string
	depth   *prometheus.Desc
	dead    *prometheus.Desc
}

func newDepthCollector(i port.Inspector, queues []string) *depthCollector {
	return &depthCollector{inspect: i, queues: queues,
		depth: prometheus.NewDesc("apex_queue_depth", "Jobs in a queue by state: ready, scheduled (delayed or retrying), running.", []string{"queue", "state"}, nil),
		dead:  prometheus.NewDesc("apex_queue_dead_letters", "Failed and dead jobs kept in a queue's dead letters.", []string{"queue"}, nil)}
}

func (d *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- d.depth; ch <- d.dead }

func (d *depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, q := range d.queues {
		s, err := d.inspect.Stats(ctx, q)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(d.depth, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(d.depth, prometheus.GaugeValue, float64(s.Ready), q, "ready")
		ch <- prometheus.MustNewConstMetric(d.depth, prometheus.GaugeValue, float64(s.Scheduled), q, "scheduled")
		ch <- prometheus.MustNewConstMetric(d.depth, prometheus.GaugeValue, float64(s.Running), q, "running")
		ch <- prometheus.MustNewConstMetric(d.depth, prometheus.GaugeValue, float64(s.Dead), q, "dead")
		ch <- prometheus.MustNewConstMetric(d.dead, prometheus.GaugeValue, float64(s.Dead), q)
	}
}
