package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/observe"
	"github.com/apexgo/apex/queue/port"
)

// kind is a registered job kind.
type kind struct {
	name string
	opts options
	run  func(ctx context.Context, a *attempt) error
}

// errUndecodable marks a payload that does not decode: straight to the
// dead letters.
type errUndecodable struct{ err error }

func (e errUndecodable) Error() string { return "undecodable payload: " + e.err.Error() }

// Handle registers fn as the handler of kind, whose payload decodes from
// JSON into T. opts set the kind's defaults: its queue ([On]), attempts,
// timeout, priority and [Backoff]. Registering a kind twice, or on a
// queue that queue.queues does not list, makes Worker.Start fail.
func Handle[T any](w *Worker, kind string, fn func(ctx context.Context, j Job[T]) error, opts ...Option) {
	run := func(ctx context.Context, a *attempt) error {
		var payload T
		if err := json.Unmarshal(a.d.Message.Payload, &payload); err != nil {
			return errUndecodable{err}
		}
		m := a.d.Message
		return fn(ctx, Job[T]{ID: m.ID, Kind: m.Kind, Queue: m.Queue, Payload: payload, Attempt: a.d.Attempt,
			MaxAttempts: m.MaxAttempts, EnqueuedAt: m.EnqueuedAt, RequestID: m.Meta[metaRequestID],
			Subject: m.Meta[metaSubject], Tenant: m.Meta[metaTenant], Log: a.log, run: a})
	}
	w.register(kind, fn == nil, run, opts)
}

// Worker runs the handlers of the registered kinds on the queues they
// use: per queue, queue.queues.<name>.concurrency jobs at once. Start it
// once every kind is registered; Stop stops fetching, lets the running
// jobs finish until its ctx ends and leaves the others unacknowledged,
// for another worker to reclaim.
type Worker struct {
	c *Client

	mu      sync.Mutex
	errs    []error
	started bool
	stop    context.CancelFunc
	fetchWG sync.WaitGroup
	jobsWG  sync.WaitGroup
	loops   []*loop
}

func newWorker(c *Client) *Worker { return &Worker{c: c} }

func (w *Worker) register(name string, nilFn bool, run func(context.Context, *attempt) error, opts []Option) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var o options
	for _, f := range opts {
		f(&o)
	}
	if o.queue == "" {
		o.queue = DefaultQueue
	}
	switch {
	case w.started:
		w.errs = append(w.errs, fmt.Errorf("queue: kind %q registered after the worker started", name))
		return
	case name == "":
		w.errs = append(w.errs, errors.New("queue: Handle with an empty kind"))
		return
	case nilFn:
		w.errs = append(w.errs, fmt.Errorf("queue: kind %q has a nil handler", name))
		return
	}
	if _, ok := w.c.cfg.Queues[o.queue]; !ok {
		w.errs = append(w.errs, fmt.Errorf("queue: kind %q is handled on queue %q, which queue.queues does not list (set queue.queues.%s.concurrency, %s)",
			name, o.queue, o.queue, app.EnvName("queue.queues."+o.queue+".concurrency")))
		return
	}
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	if _, ok := w.c.kinds[name]; ok {
		w.errs = append(w.errs, fmt.Errorf("queue: kind %q is registered twice", name))
		return
	}
	w.c.kinds[name] = &kind{name: name, opts: o, run: run}
}

// Kinds returns the registered kinds, sorted.
func (w *Worker) Kinds() []string {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return slices.Sorted(maps.Keys(w.c.kinds))
}

// Err returns the registration errors so far (nil when none).
func (w *Worker) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return errors.Join(w.errs...)
}

// Start checks the registrations and starts fetching on every queue that
// has a handler. It fails, naming each problem, on a wrong registration.
func (w *Worker) Start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := errors.Join(w.errs...); err != nil {
		return err
	}
	if w.started {
		return errors.New("queue: worker started twice")
	}
	w.started = true
	byQueue := map[string][]string{}
	w.c.mu.Lock()
	for name, k := range w.c.kinds {
		byQueue[k.opts.queue] = append(byQueue[k.opts.queue], name)
	}
	w.c.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	for _, q := range slices.Sorted(maps.Keys(byQueue)) {
		l := &loop{w: w, queue: q, kinds: byQueue[q], slots: w.c.cfg.concurrency(q), fetchErrs: rate.Sometimes{First: 1, Interval: time.Minute},
			byKind: map[string]*kind{}}
		w.c.mu.Lock()
		for _, name := range l.kinds {
			l.byKind[name] = w.c.kinds[name]
		}
		w.c.mu.Unlock()
		l.wake = make(chan struct{}, 1)
		l.runAvg.Store(-1) // unknown: no read-ahead until jobs prove short
		// One long-lived runner per slot: a job starts without a new
		// goroutine (and its stack growth) of its own. jobs holds what
		// the slots and the read-ahead allow (see reserve).
		l.jobs = make(chan port.Delivery, (1+readAhead)*l.slots)
		for range l.slots {
			go l.runner()
		}
		l.settle = make(chan port.Settlement, 2*l.slots)
		w.loops = append(w.loops, l)
		// A few fetchers per queue keep round trips in flight while
		// another's jobs start: one per 2 slots, at most 8 (on Redis, an
		// idle fetcher holds a blocking connection); and several
		// settlers, so that finishing jobs do not queue behind one round
		// trip at a time.
		for range min(max(l.slots/2, 1), 8) {
			w.fetchWG.Add(1)
			go l.fetch(ctx)
		}
		for range min(max(l.slots/5, 2), 4) {
			l.settlers.Add(1)
			go l.settler()
		}
	}
	return nil
}

// Stop stops fetching and waits for the running jobs until ctx ends;
// then it cancels their contexts and abandons those still running
// (unacknowledged, to be reclaimed), and returns ctx's error.
func (w *Worker) Stop(ctx context.Context) error {
	w.mu.Lock()
	if !w.started || w.stop == nil {
		w.mu.Unlock()
		return nil
	}
	stop := w.stop
	w.stop = nil
	w.mu.Unlock()
	stop()
	w.fetchWG.Wait()
	for _, l := range w.loops {
		l.giveBack()  // read ahead, not started: back to the queue at once
		close(l.jobs) // the runners end once they ran what they were handed
	}
	done := make(chan struct{})
	go func() { w.jobsWG.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		for _, l := range w.loops {
			l.abandonAll()
		}
	}
	for _, l := range w.loops {
		l.close()
	}
	return err
}

// loop fetches and runs the jobs of one queue.
type loop struct {
	w      *Worker
	queue  string
	kinds  []string
	byKind map[string]*kind // the kinds above; fixed once started
	slots  int
	jobs   chan port.Delivery // fetched deliveries, to the runners
	// held counts deliveries being fetched, waiting in jobs or running;
	// reserve bounds it. wake tells a waiting fetcher that it went down.
	gate sync.Mutex
	held int
	wake chan struct{}
	// runAvg is a moving average of the handlers' run time (ns), -1
	// until one ran: it decides whether the loop reads ahead.
	runAvg   atomic.Int64
	settle   chan port.Settlement
	settlers sync.WaitGroup

	fetchErrs rate.Sometimes

	mu       sync.Mutex
	inflight map[*attempt]struct{}
	busy     int
	closed   bool
}

// submit hands s to the settler; after Stop gave up waiting it drops s,
// leaving the job unacknowledged for another worker.
func (l *loop) submit(s port.Settlement) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.settle <- s
	}
}

func (l *loop) close() {
	l.mu.Lock()
	l.closed = true
	close(l.settle)
	l.mu.Unlock()
	l.settlers.Wait()
}

// readAheadBelow is the average run time under which a loop reads
// ahead: it holds up to readAhead more jobs per slot than it has slots,
// fetched up to two slots' worth at a time, so that the next batches are
// on their way while one runs and each round trip carries more jobs. A
// job read ahead is a started attempt (its record says running) that
// waits in this process for about readAhead jobs' run time, at most a
// few milliseconds on average; longer jobs are fetched only for free
// slots, so that an idle worker elsewhere gets them. Stop gives the ones
// not started back at once.
const (
	readAheadBelow = time.Millisecond
	readAhead      = 3
	fetchSlots     = 2
)

// reserve returns how many deliveries the caller may fetch (at most
// fetchSlots per slot), counting them held; 0 when the loop is full.
func (l *loop) reserve() int {
	limit := l.slots
	if avg := l.runAvg.Load(); avg >= 0 && avg < int64(readAheadBelow) {
		limit += readAhead * l.slots
	}
	l.gate.Lock()
	n := min(limit-l.held, fetchSlots*l.slots)
	if n <= 0 {
		l.gate.Unlock()
		return 0
	}
	l.held += n
	more := l.held < limit
	l.gate.Unlock()
	if more {
		l.signal() // another fetcher may take the rest
	}
	return n
}

// release returns n held deliveries (finished, or not fetched).
func (l *loop) release(n int) {
	if n <= 0 {
		return
	}
	l.gate.Lock()
	l.held -= n
	l.gate.Unlock()
	l.signal()
}

func (l *loop) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// ran records a handler's run time in the moving average; a sample
// counts as at most twice readAheadBelow, so that one job slowed by the
// scheduler does not stop the read-ahead of a queue of short jobs (a
// queue of longer ones still averages past the threshold).
func (l *loop) ran(d time.Duration) {
	d = min(d, 2*readAheadBelow)
	avg := l.runAvg.Load()
	if avg < 0 {
		l.runAvg.Store(int64(d))
		return
	}
	l.runAvg.Store(avg + (int64(d)-avg)/8)
}

// giveBack abandons the deliveries fetched but not started (read ahead)
// once the fetchers stopped: they go back to the queue for any worker,
// their attempt uncounted.
func (l *loop) giveBack() {
	var ss []port.Settlement
	for {
		select {
		case d := <-l.jobs:
			ss = append(ss, port.Settlement{Delivery: d, Outcome: port.Abandon})
			continue
		default:
		}
		break
	}
	if len(ss) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.w.c.backend.Settle(ctx, ss); err != nil {
		// Still held by this process: reclaimed once it stops.
		l.w.c.log.Warn("queue: cannot give back jobs read ahead; they run again once reclaimed", zap.String("queue", l.queue), zap.Int("jobs", len(ss)), zap.Error(err))
	}
	l.release(len(ss))
	for range ss {
		l.w.jobsWG.Done()
	}
}

func (l *loop) fetch(ctx context.Context) {
	defer l.w.fetchWG.Done()
	c := l.w.c
	for {
		n := l.reserve()
		if n == 0 {
			select {
			case <-ctx.Done():
				return
			case <-l.wake:
			}
			continue
		}
		if ctx.Err() != nil {
			l.release(n)
			return
		}
		ds, err := c.backend.Fetch(ctx, port.FetchParams{Queue: l.queue, Max: n, Wait: c.cfg.Poll, Kinds: l.kinds})
		if err != nil && ctx.Err() == nil {
			l.fetchErrs.Do(func() {
				c.log.Warn("queue: fetch failed; retrying every second (logged once a minute)", zap.String("queue", l.queue), zap.Error(err))
			})
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
		for _, d := range ds {
			n--
			l.w.jobsWG.Add(1)
			l.jobs <- d // never blocks: held bounds what jobs holds
		}
		l.release(n)
	}
}

// settler sends settlements in batches: what is waiting when it sends.
func (l *loop) settler() {
	defer l.settlers.Done()
	c := l.w.c
	batch := make([]port.Settlement, 0, l.slots)
	for s := range l.settle {
		batch = append(batch[:0], s)
	drain:
		for len(batch) < cap(batch) {
			select {
			case s, ok := <-l.settle:
				if !ok {
					break drain
				}
				batch = append(batch, s)
			default:
				break drain
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.backend.Settle(ctx, batch)
		cancel()
		if err != nil {
			// Unsettled deliveries stay pending and are reclaimed: at least once.
			c.log.Error("queue: cannot record job outcomes; they will run again", zap.String("queue", l.queue), zap.Int("jobs", len(batch)), zap.Error(err))
		}
	}
}

func (l *loop) track(a *attempt, on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inflight == nil {
		l.inflight = map[*attempt]struct{}{}
	}
	if on {
		l.inflight[a] = struct{}{}
		l.busy++
	} else {
		delete(l.inflight, a)
		l.busy--
	}
	l.w.c.metrics.busy(l.queue, float64(l.busy)/float64(l.slots))
}

// abandonAll gives up the attempts still running at the stop deadline:
// their contexts end and they are handed back unfinished.
func (l *loop) abandonAll() {
	l.mu.Lock()
	as := slices.Collect(maps.Keys(l.inflight))
	l.mu.Unlock()
	var ss []port.Settlement
	for _, a := range as {
		if a.claim() {
			a.cancel()
			ss = append(ss, port.Settlement{Delivery: a.d, Outcome: port.Abandon})
		}
	}
	if len(ss) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.w.c.backend.Settle(ctx, ss)
	}
}

// attempt is one delivery being run.
type attempt struct {
	c      *Client
	d      port.Delivery
	log    *zap.Logger
	ctx    deadlineCtx        // the handler's ctx, when its base cannot end
	stop   context.CancelFunc // the handler's ctx's cancel otherwise
	result []byte

	canceled atomic.Bool // by Client.Cancel: the outcome is discarded, no event

	mu      sync.Mutex
	settled bool
}

// cancel ends the handler's ctx.
func (a *attempt) cancel() {
	if a.stop != nil {
		a.stop()
		return
	}
	a.ctx.end(context.Canceled)
}

// claim marks the attempt settled; only the first caller may settle it.
func (a *attempt) claim() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.settled {
		return false
	}
	a.settled = true
	return true
}

func (a *attempt) progress(ctx context.Context, percent int, message string) error {
	percent = min(max(percent, 0), 100)
	if p, ok := a.c.backend.(port.Progressor); ok {
		if err := p.Progress(ctx, a.d.Message.ID, percent, message); err != nil {
			return err
		}
	}
	a.c.publish(ctx, a.status(Running), app.JobEvent{Status: "progress", Attempt: a.d.Attempt, Progress: percent, Message: message})
	return nil
}

func (a *attempt) setResult(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("queue: encode the result: %w", err)
	}
	if len(b) > a.c.cfg.ResultMaxBytes {
		return fmt.Errorf("queue: result of %d bytes exceeds queue.result_max_bytes (%d)", len(b), a.c.cfg.ResultMaxBytes)
	}
	a.result = b
	return nil
}

// status is the record as the worker knows it, for events.
func (a *attempt) status(s State) Status {
	m := a.d.Message
	return Status{ID: m.ID, Kind: m.Kind, Queue: m.Queue, State: s, Attempts: a.d.Attempt, MaxAttempts: m.MaxAttempts,
		Subject: m.Meta[metaSubject], Tenant: m.Meta[metaTenant]}
}

// runner runs the deliveries fetch hands it until Stop closes jobs.
func (l *loop) runner() {
	for d := range l.jobs {
		l.run(d)
	}
}

// attemptBase returns the base context of an attempt at m (tenant,
// subject, request ID, a span linked to the enqueuer's when tracing), its
// logger and its span (a no-op one without tracing).
func (c *Client) attemptBase(m port.Message, attempt int) (context.Context, *zap.Logger, trace.Span) {
	base := context.Background()
	if t := m.Meta[metaTenant]; t != "" {
		base = app.WithTenant(base, t)
	}
	if s := m.Meta[metaSubject]; s != "" {
		base = WithSubject(base, s) // jobs it enqueues belong to the same subject
	}
	span := trace.SpanFromContext(base) // a no-op span without tracing
	if c.tracing {
		link := trace.SpanContextFromContext(c.prop.Extract(context.Background(), propagation.MapCarrier(m.Meta)))
		base, span = c.tracer.Start(base, "queue.process "+m.Kind, trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithLinks(trace.Link{SpanContext: link}))
	}
	log := c.log
	if c.logging {
		log = log.With(zap.String("job_id", m.ID), zap.String("kind", m.Kind), zap.Int("attempt", attempt))
	}
	base = observe.ContextWith(base, log, m.Meta[metaRequestID])
	if c.logging {
		log = observe.Logger(base)
	}
	return base, log, span
}

func (l *loop) run(d port.Delivery) {
	defer l.w.jobsWG.Done()
	defer l.release(1)
	c := l.w.c
	m := d.Message
	k := l.byKind[m.Kind]

	// The job's context: request ID, tenant, a span linked to the enqueuer's.
	base, log, span := c.bare, c.log, trace.SpanFromContext(c.bare) // a no-op span
	if len(m.Meta) > 0 || c.tracing || c.logging {
		base, log, span = c.attemptBase(m, d.Attempt)
		if c.tracing {
			defer span.End()
		}
	}

	timeout := cmpDuration(m.Timeout, kOpt(k).timeout, c.cfg.Timeout)
	a := &attempt{c: c, d: d, log: log}
	var ctx context.Context
	if base.Done() == nil {
		// The usual case: a base that never ends needs no timer until
		// the handler asks for Done.
		a.ctx = deadlineCtx{Context: base, deadline: time.Now().Add(timeout)}
		ctx = &a.ctx
	} else {
		ctx, a.stop = context.WithTimeout(base, timeout)
	}
	defer a.cancel()
	l.track(a, true)
	defer l.track(a, false)
	c.mu.Lock()
	c.running[m.ID] = a
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.running, m.ID)
		c.mu.Unlock()
	}()

	if c.metrics != nil {
		c.metrics.started(m.Kind, m.Queue, c.now().Sub(m.EnqueuedAt), m.RunAt)
	}
	began := time.Now()
	if len(c.sinks) > 0 {
		c.publish(ctx, a.status(Running), app.JobEvent{Status: string(Running), Attempt: d.Attempt})
	}
	if k == nil { // cannot happen: Fetch delivers only the kinds this loop handles
		if a.claim() {
			l.submit(port.Settlement{Delivery: d, Outcome: port.Abandon})
		}
		return
	}
	err := safeRun(ctx, k, a)
	took := time.Since(began)
	l.ran(took)
	if c.metrics != nil {
		c.metrics.ran(m.Kind, took)
	}

	s := port.Settlement{Delivery: d}
	ev := app.JobEvent{Attempt: d.Attempt}
	var pe *panicError
	switch {
	case err == nil:
		s.Outcome, s.Result = port.Succeed, a.result
		ev.Status = string(Succeeded)
		c.metrics.count(m.Kind, Succeeded)
	case errors.As(err, new(errUndecodable)):
		s.Outcome, s.Error = port.Bury, err.Error()
		ev.Status, ev.Error = string(Dead), s.Error
		c.metrics.count(m.Kind, Dead)
		log.Error("queue: job sent to the dead letters", zap.Error(err))
	case IsPermanent(err):
		s.Outcome, s.Error = port.Fail, err.Error()
		ev.Status, ev.Error = string(Failed), s.Error
		c.metrics.count(m.Kind, Failed)
		log.Warn("queue: job failed permanently", zap.Error(err))
	case d.Attempt >= m.MaxAttempts && m.MaxAttempts > 0:
		s.Outcome, s.Error = port.Bury, err.Error()
		ev.Status, ev.Error = string(Dead), s.Error
		c.metrics.count(m.Kind, Failed)
		c.metrics.count(m.Kind, Dead)
		log.Error("queue: job failed its last attempt; sent to the dead letters", zap.Error(err))
	default:
		backoff := kOpt(k).backoff
		if backoff == nil {
			backoff = ExponentialBackoff(c.cfg.Backoff.Base, c.cfg.Backoff.Max)
		}
		s.Outcome, s.Error, s.RunAt = port.Retry, err.Error(), c.now().Add(backoff(d.Attempt))
		ev.Status, ev.Error = string(Retrying), s.Error
		c.metrics.count(m.Kind, Failed)
		c.metrics.count(m.Kind, Retrying)
		if errors.As(err, &pe) {
			log.Error("queue: job panicked; it will be retried", zap.Any("panic", pe.value), zap.String("stack", pe.stack))
		} else {
			log.Info("queue: job failed; it will be retried", zap.Error(err), zap.Time("next_attempt", s.RunAt))
		}
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	if !a.claim() {
		return // abandoned at the stop deadline
	}
	l.submit(s)
	if len(c.sinks) > 0 && !a.canceled.Load() { // the record says canceled, and the sinks heard so
		c.publish(ctx, a.status(State(ev.Status)), ev)
	}
}

func kOpt(k *kind) options {
	if k == nil {
		return options{}
	}
	return k.opts
}

func cmpDuration(ds ...time.Duration) time.Duration {
	for _, d := range ds {
		if d > 0 {
			return d
		}
	}
	return DefaultTimeout
}

type panicError struct {
	value any
	stack string
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }

// safeRun runs the handler, turning a panic into an error with its stack.
func safeRun(ctx context.Context, k *kind, a *attempt) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v, stack: string(debug.Stack())}
		}
	}()
	return k.run(ctx, a)
}
