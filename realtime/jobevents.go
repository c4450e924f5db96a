package realtime

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/apexgo/apex/app"
)

// JobMessage is what a job event looks like on a user channel:
// {"type":"job","job":{"id":...,"status":"succeeded",...}}.
type JobMessage struct {
	Type string       `json:"type"`
	Job  app.JobEvent `json:"job"`
}

// JobEventSink pushes job events to the user channel of the subject that
// enqueued the job. JobEvent never blocks: events wait in a bounded
// buffer for one publisher goroutine and are dropped, counted in
// realtime_job_events_total{result="dropped"}, when it is full. Events
// without a subject or of a status not configured are skipped.
type JobEventSink struct {
	hub      Hub
	statuses []string
	log      *zap.Logger
	events   chan jobItem
	counts   *prometheus.CounterVec
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	timeout  time.Duration
}

type jobItem struct {
	ctx context.Context
	e   app.JobEvent
}

var _ app.JobEventSink = (*JobEventSink)(nil)

// JobEventSinkParams configure [NewJobEventSink].
type JobEventSinkParams struct {
	Hub Hub
	// Statuses pushed; default DefaultJobEventStatuses.
	Statuses []string
	// Buffer bounds waiting events; default DefaultJobEventBuffer.
	Buffer int
	// PublishTimeout bounds one publication. Default 3s.
	PublishTimeout time.Duration
	Log            *zap.Logger
	// Registerer receives realtime_job_events_total; nil: not exported.
	Registerer prometheus.Registerer
}

// NewJobEventSink starts the sink's publisher; Close stops it.
func NewJobEventSink(p JobEventSinkParams) (*JobEventSink, error) {
	if p.Statuses == nil {
		p.Statuses = DefaultJobEventStatuses
	}
	if p.Buffer <= 0 {
		p.Buffer = DefaultJobEventBuffer
	}
	if p.PublishTimeout <= 0 {
		p.PublishTimeout = 3 * time.Second
	}
	if p.Log == nil {
		p.Log = zap.NewNop()
	}
	s := &JobEventSink{
		hub: p.Hub, statuses: p.Statuses, log: p.Log, timeout: p.PublishTimeout,
		events: make(chan jobItem, p.Buffer), stop: make(chan struct{}), done: make(chan struct{}),
		counts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "realtime_job_events_total",
			Help: "Job events by outcome: published, dropped (buffer full), skipped (no subject or status not pushed), failed (publish error).",
		}, []string{"result"}),
	}
	if p.Registerer != nil {
		if err := p.Registerer.Register(s.counts); err != nil {
			return nil, err
		}
	}
	go s.run()
	return s, nil
}

// JobEvent implements app.JobEventSink.
func (s *JobEventSink) JobEvent(ctx context.Context, e app.JobEvent) {
	if e.Subject == "" || !slices.Contains(s.statuses, e.Status) {
		s.counts.WithLabelValues("skipped").Inc()
		return
	}
	select {
	case s.events <- jobItem{context.WithoutCancel(ctx), e}:
	default:
		s.counts.WithLabelValues("dropped").Inc()
	}
}

func (s *JobEventSink) run() {
	defer close(s.done)
	for {
		select {
		case it := <-s.events:
			s.publish(it)
		case <-s.stop:
			for {
				select {
				case it := <-s.events:
					s.publish(it)
				default:
					return
				}
			}
		}
	}
}

func (s *JobEventSink) publish(it jobItem) {
	data, err := json.Marshal(JobMessage{Type: "job", Job: it.e})
	if err == nil {
		ctx, cancel := context.WithTimeout(it.ctx, s.timeout)
		err = s.hub.PublishToUser(ctx, it.e.Subject, data)
		cancel()
	}
	if err != nil {
		s.counts.WithLabelValues("failed").Inc()
		s.log.Warn("realtime: job event not pushed", zap.String("job", it.e.ID), zap.String("status", it.e.Status), zap.Error(err))
		return
	}
	s.counts.WithLabelValues("published").Inc()
}

// Close publishes what is buffered, within ctx, and stops.
func (s *JobEventSink) Close(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type sinkIn struct {
	fx.In
	Lifecycle  fx.Lifecycle
	Config     Config
	Hub        Hub
	Log        *zap.Logger
	Registerer prometheus.Registerer
}

func newJobEventSinks(in sinkIn) ([]app.JobEventSink, error) {
	if !in.Config.JobEvents.Enabled {
		return nil, nil
	}
	s, err := NewJobEventSink(JobEventSinkParams{
		Hub: in.Hub, Statuses: in.Config.JobEvents.Statuses, Buffer: in.Config.JobEvents.Buffer,
		Log: in.Log.Named("realtime"), Registerer: in.Registerer,
	})
	if err != nil {
		return nil, err
	}
	in.Lifecycle.Append(fx.StopHook(s.Close))
	return []app.JobEventSink{s}, nil
}
