package observe

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/apexgo/apex/app"
)

// maxFieldLen bounds the message and error text copied into an alert.
const maxFieldLen = 2048

// maxFolded bounds the distinct alerts being folded at once; past it, new
// kinds are sent without folding until the window frees room.
const maxFolded = 1024

// Dispatcher turns log entries into alerts: a zap core that enqueues every
// entry at ERROR or above without blocking, and a goroutine that folds
// identical alerts and delivers them to an [Alerter].
type Dispatcher struct {
	alerter Alerter
	log     *zap.Logger // must not raise alerts itself
	info    app.Info
	cfg     AlertsConfig
	queue   chan Alert

	dropped, sent, failed, folded prometheus.Counter

	stopOnce   sync.Once
	stop       chan struct{}
	done       chan struct{}
	ctx        context.Context
	cancel     context.CancelFunc
	now        func() time.Time
	stopFailed bool // only touched by the run goroutine
}

// NewDispatcher returns a stopped Dispatcher; call Start. reg may be nil.
// log receives delivery failures and must not raise alerts.
func NewDispatcher(cfg AlertsConfig, info app.Info, alerter Alerter, log *zap.Logger, reg prometheus.Registerer) (*Dispatcher, error) {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	d := &Dispatcher{
		alerter: alerter,
		log:     log,
		info:    info,
		cfg:     cfg,
		queue:   make(chan Alert, max(cfg.QueueSize, 1)),
		dropped: counter("apex_alerts_dropped_total", "Alerts dropped because the alert queue was full."),
		sent:    counter("apex_alerts_sent_total", "Alerts delivered to the alerter."),
		failed:  counter("apex_alerts_failed_total", "Alert deliveries that failed."),
		folded:  counter("apex_alerts_folded_total", "Log entries folded into an earlier identical alert."),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		now:     time.Now,
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	if reg != nil {
		for _, c := range []prometheus.Collector{d.dropped, d.sent, d.failed, d.folded} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// Core returns the zap core to tee into a logger: it accepts entries at
// ERROR and above and enqueues them, dropping (and counting) when the
// queue is full. Its Write never blocks.
func (d *Dispatcher) Core() zapcore.Core { return &alertCore{d: d} }

// Start runs the delivery goroutine.
func (d *Dispatcher) Start() { go d.run() }

// Stop delivers what is queued and what is still folded, within one
// alerts.timeout and ctx, then returns nil: alerts that cannot be
// delivered by then are dropped, counted as failed and reported at WARN,
// since a dead receiver must not fail or hold up the app's stop.
func (d *Dispatcher) Stop(ctx context.Context) error {
	d.stopOnce.Do(func() { close(d.stop) })
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	select {
	case <-d.done:
	case <-ctx.Done():
		d.cancel()
		<-d.done
		d.log.Warn("alerts still queued at stop were dropped", zap.Error(ctx.Err()))
	}
	return nil
}

func (d *Dispatcher) enqueue(a Alert) {
	select {
	case d.queue <- a:
	default:
		d.dropped.Inc()
	}
}

type foldKey struct{ level, message, err string }

type foldState struct {
	since      time.Time
	suppressed int
	last       Alert
}

func (d *Dispatcher) run() {
	defer close(d.done)
	defer d.cancel()
	pending := make(map[foldKey]*foldState)
	tick := d.cfg.Window / 4
	if tick <= 0 {
		tick = time.Second
	}
	ticker := time.NewTicker(tick)
	defer ticker.Stop()

	handle := func(a Alert) {
		if d.cfg.Window <= 0 {
			d.deliver(a)
			return
		}
		k := foldKey{a.Level, a.Message, a.Error}
		if st, ok := pending[k]; ok {
			st.suppressed++
			st.last = a
			d.folded.Inc()
			return
		}
		if len(pending) < maxFolded {
			pending[k] = &foldState{since: d.now()}
		}
		d.deliver(a)
	}
	flush := func(all bool) {
		now := d.now()
		for k, st := range pending {
			if !all && now.Sub(st.since) < d.cfg.Window {
				continue
			}
			delete(pending, k)
			if st.suppressed > 0 {
				a := st.last
				a.Count = st.suppressed
				d.deliver(a)
			}
		}
	}
	for {
		select {
		case a := <-d.queue:
			handle(a)
		case <-ticker.C:
			flush(false)
		case <-d.stop:
		drain:
			for {
				select {
				case a := <-d.queue:
					handle(a)
				default:
					break drain
				}
			}
			flush(true)
			return
		}
	}
}

func (d *Dispatcher) deliver(a Alert) {
	if d.ctx.Err() != nil {
		d.failed.Inc()
		return
	}
	select {
	case <-d.stop:
		// Stopping: one failure means the receiver is gone; drop the rest.
		if d.stopFailed {
			d.failed.Inc()
			return
		}
	default:
	}
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.Timeout)
	defer cancel()
	if err := d.alerter.Alert(ctx, a); err != nil {
		d.failed.Inc()
		select {
		case <-d.stop:
			d.stopFailed = true
		default:
		}
		d.log.Warn("alert not delivered", zap.Error(err), zap.String("alert_message", a.Message))
		return
	}
	d.sent.Inc()
}

type alertCore struct {
	d      *Dispatcher
	fields []zapcore.Field
}

func (c *alertCore) Enabled(l zapcore.Level) bool { return l >= zapcore.ErrorLevel }

func (c *alertCore) With(fields []zapcore.Field) zapcore.Core {
	merged := make([]zapcore.Field, 0, len(c.fields)+len(fields))
	merged = append(append(merged, c.fields...), fields...)
	return &alertCore{d: c.d, fields: merged}
}

func (c *alertCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *alertCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	a := Alert{
		Service: c.d.info.Name,
		Env:     c.d.info.Env,
		Level:   e.Level.String(),
		Message: truncate(e.Message),
		Time:    e.Time,
		Count:   1,
	}
	for _, fs := range [][]zapcore.Field{c.fields, fields} {
		for _, f := range fs {
			switch f.Key {
			case "error":
				if err, ok := f.Interface.(error); ok && f.Type == zapcore.ErrorType {
					a.Error = truncate(safeError(err))
				} else if f.Type == zapcore.StringType {
					a.Error = truncate(f.String)
				}
			case "request_id":
				if f.Type == zapcore.StringType {
					a.RequestID = truncate(f.String)
				}
			case "trace_id":
				if f.Type == zapcore.StringType {
					a.TraceID = truncate(f.String)
				}
			}
		}
	}
	c.d.enqueue(a)
	return nil
}

func (c *alertCore) Sync() error { return nil }

func safeError(err error) (s string) {
	defer func() {
		if recover() != nil {
			s = "(error text panicked)"
		}
	}()
	return err.Error()
}

func truncate(s string) string {
	if len(s) <= maxFieldLen {
		return s
	}
	return s[:maxFieldLen] + "…"
}
