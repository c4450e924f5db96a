package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"gorm.io/gorm"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/observe"
	"github.com/apexgo/apex/queue/outbox"
	"github.com/apexgo/apex/queue/port"
)

// Params configures [New].
type Params struct {
	// Backend stores the jobs. Required.
	Backend Queue
	// Config is the "queue" section; zero fields take DefaultConfig's.
	Config Config
	// Log receives job logs (panics, failures). Default: none.
	Log *zap.Logger
	// Tracer makes a span per enqueue and per attempt. Default: none.
	Tracer trace.TracerProvider
	// Sinks receive every status change.
	Sinks []app.JobEventSink
	// Metrics counts jobs; nil counts nothing.
	Metrics *Metrics
	// Now is the clock for run times and backoff. Default time.Now.
	Now func() time.Time
	// Outbox is the database whose outbox table EnqueueTx writes (with
	// queue.outbox.enabled): Status finds a job there while it waits for
	// the relay. Nil: Status asks the backend only.
	Outbox *gorm.DB
}

// Client enqueues jobs and reads and changes their status; it is safe for
// concurrent use. Its [Worker] runs the handlers.
type Client struct {
	backend Queue
	cfg     Config
	log     *zap.Logger
	tracer  trace.Tracer
	prop    propagation.TextMapPropagator
	sinks   []app.JobEventSink
	metrics *Metrics
	now     func() time.Time
	outbox  *gorm.DB // see Params.Outbox
	tracing bool     // a recording tracer: a span per attempt
	logging bool     // a logger that writes: job fields on the attempt's logger
	// bare is the base context of an attempt whose job carries no tenant,
	// subject or request ID, made once (without tracing or logging).
	bare context.Context

	mu      sync.Mutex
	kinds   map[string]*kind
	running map[string]*attempt // job ID → the attempt running here
	worker  *Worker
}

// New returns a Client over p.Backend and its Worker (Client.Worker),
// not started.
func New(p Params) (*Client, error) {
	if p.Backend == nil {
		return nil, errors.New("queue: Params.Backend is required")
	}
	c := &Client{backend: p.Backend, cfg: withDefaults(p.Config), log: p.Log, sinks: p.Sinks, metrics: p.Metrics, now: p.Now, outbox: p.Outbox,
		kinds: map[string]*kind{}, running: map[string]*attempt{}, prop: propagation.TraceContext{}}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	c.logging = c.log.Core() != zapcore.NewNopCore()
	if c.now == nil {
		c.now = time.Now
	}
	tp := p.Tracer
	if !observe.Recording(tp) {
		tp = noop.NewTracerProvider()
	}
	c.tracing = observe.Recording(tp)
	c.tracer = tp.Tracer("github.com/apexgo/apex/queue")
	c.bare = observe.ContextWith(context.Background(), c.log, "")
	c.worker = newWorker(c)
	return c, nil
}

func withDefaults(c Config) Config {
	d := DefaultConfig()
	if c.Queues == nil {
		c.Queues = d.Queues
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.Backoff.Base == 0 {
		c.Backoff.Base = d.Backoff.Base
	}
	if c.Backoff.Max == 0 {
		c.Backoff.Max = d.Backoff.Max
	}
	if c.ResultMaxBytes == 0 {
		c.ResultMaxBytes = d.ResultMaxBytes
	}
	if c.Poll == 0 {
		c.Poll = d.Poll
	}
	return c
}

// Backend returns the storage port the client uses.
func (c *Client) Backend() Queue { return c.backend }

// Worker returns the client's worker, where handlers are registered.
func (c *Client) Worker() *Worker { return c.worker }

// Item is one job of a batch for [Client.EnqueueMany].
type Item struct {
	Kind    string
	Payload any
	Options []Option
}

// Enqueue stores a job of kind with payload (JSON-encoded) and returns its
// ID. With a unique key or ID held by a live job, it stores nothing and
// returns that job's ID with an error wrapping [ErrDuplicate]. The job
// carries ctx's request ID, tenant, subject and trace context.
func (c *Client) Enqueue(ctx context.Context, kind string, payload any, opts ...Option) (string, error) {
	res, err := c.EnqueueMany(ctx, Item{Kind: kind, Payload: payload, Options: opts})
	if err != nil {
		return "", err
	}
	if res[0].Err != nil {
		return res[0].ID, res[0].Err
	}
	if res[0].Duplicate {
		return res[0].ID, fmt.Errorf("%w: job %s holds the same ID or unique key", ErrDuplicate, res[0].ID)
	}
	return res[0].ID, nil
}

// EnqueueMany stores jobs in one round trip and returns an Enqueued per
// job, in order (Duplicate for those not stored because of a unique key
// or ID, Err for a job the backend had no room for). The error is for
// the batch: an invalid job stores none.
func (c *Client) EnqueueMany(ctx context.Context, jobs ...Item) ([]Enqueued, error) {
	ctx, span := c.tracer.Start(ctx, "queue.enqueue", trace.WithSpanKind(trace.SpanKindProducer))
	defer span.End()
	msgs, err := c.Prepare(ctx, jobs...)
	if err != nil {
		return nil, err
	}
	res, err := c.backend.Enqueue(ctx, msgs)
	if err != nil {
		span.RecordError(err)
		return nil, fmt.Errorf("queue: enqueue: %w", err)
	}
	for i, r := range res {
		if r.Err == nil && !r.Duplicate {
			c.metrics.enqueued(msgs[i].Kind)
		}
	}
	return res, nil
}

// Prepare builds the messages EnqueueMany would store — IDs assigned,
// payloads encoded, options applied, ctx's request ID, tenant, subject
// and trace context captured — without storing them: for a caller that
// stores them elsewhere first (a transactional outbox) and hands them to
// the backend's Enqueue later; their IDs make a second hand-over a
// duplicate, not a second job.
func (c *Client) Prepare(ctx context.Context, jobs ...Item) ([]Message, error) {
	meta := c.meta(ctx)
	now := c.now()
	msgs := make([]Message, len(jobs))
	for i, j := range jobs {
		m, err := c.message(j, meta, now)
		if err != nil {
			return nil, err
		}
		msgs[i] = m
	}
	return msgs, nil
}

func (c *Client) message(j Item, meta map[string]string, now time.Time) (Message, error) {
	if j.Kind == "" {
		return Message{}, errors.New("queue: a job needs a kind")
	}
	var o options
	c.mu.Lock()
	if k := c.kinds[j.Kind]; k != nil {
		o = k.opts
		o.backoff = nil
	}
	c.mu.Unlock()
	for _, f := range j.Options {
		f(&o)
	}
	q := o.queue
	if q == "" {
		q = DefaultQueue
	}
	if err := validQueue(q); err != nil {
		return Message{}, err
	}
	payload, err := json.Marshal(j.Payload)
	if err != nil {
		return Message{}, fmt.Errorf("queue: encode the payload of %s: %w", j.Kind, err)
	}
	id := o.id
	if id == "" {
		id = NewID(q)
	} else if QueueOf(id) != q {
		return Message{}, fmt.Errorf("queue: job ID %q must start with its queue's name and a dot (%q)", id, q+".")
	}
	if o.maxAttempts < 0 || o.timeout < 0 || o.uniqueFor < 0 || o.priority < 0 || o.priority > High {
		return Message{}, errors.New("queue: negative max attempts, timeout or unique window, or an unknown priority")
	}
	if o.uniqueKey != "" && o.uniqueFor == 0 {
		return Message{}, errors.New("queue: Unique needs a window greater than zero")
	}
	m := Message{ID: id, Kind: j.Kind, Queue: q, Payload: payload, Priority: o.priority,
		MaxAttempts: o.maxAttempts, Timeout: o.timeout, UniqueKey: o.uniqueKey, UniqueFor: o.uniqueFor,
		Meta: meta, EnqueuedAt: now}
	if m.MaxAttempts == 0 {
		m.MaxAttempts = c.cfg.MaxAttempts
	}
	if m.Priority == 0 {
		m.Priority = Normal
	}
	switch {
	case !o.runAt.IsZero():
		m.RunAt = o.runAt
	case o.delay > 0:
		m.RunAt = now.Add(o.delay)
	}
	if o.subject != nil {
		m.Meta = cloneMeta(meta)
		m.Meta[metaSubject] = *o.subject
	}
	return m, nil
}

// The keys of Message.Meta.
const (
	metaRequestID = "request_id"
	metaTenant    = "tenant"
	metaSubject   = "subject"
)

func cloneMeta(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// meta captures what the job carries from ctx.
func (c *Client) meta(ctx context.Context) map[string]string {
	m := map[string]string{}
	if id := observe.RequestID(ctx); id != "" {
		m[metaRequestID] = id
	}
	if t, ok := app.Tenant(ctx); ok {
		m[metaTenant] = t
	}
	if s := subjectOf(ctx); s != "" {
		m[metaSubject] = s
	}
	c.prop.Inject(ctx, propagation.MapCarrier(m))
	if len(m) == 0 {
		return nil // nothing to keep: no map to copy or encode per job
	}
	return m
}

type subjectKey struct{}

// WithSubject returns ctx carrying the subject that jobs enqueued with it
// record; the module's middleware does it for every request when an
// httpx.SubjectFunc (auth) is in the container.
func WithSubject(ctx context.Context, subject string) context.Context {
	return context.WithValue(ctx, subjectKey{}, func() string { return subject })
}

func subjectOf(ctx context.Context) string {
	if f, ok := ctx.Value(subjectKey{}).(func() string); ok {
		return f()
	}
	return ""
}

// Status returns the job's record, or an error wrapping [ErrNotFound].
// A job of EnqueueTx whose transaction committed but which the outbox
// relay has not handed to the backend yet is Pending (or Scheduled, with
// a run time ahead), with no attempts.
func (c *Client) Status(ctx context.Context, id string) (Status, error) {
	if QueueOf(id) == "" {
		return Status{}, ErrNotFound
	}
	st, err := c.backend.Status(ctx, id)
	if c.outbox == nil || !errors.Is(err, ErrNotFound) {
		return st, err
	}
	m, ok, werr := outbox.Waiting(ctx, c.outbox, id)
	if werr != nil {
		return Status{}, werr
	}
	if !ok { // not in the outbox either, or relayed between the two reads
		return c.backend.Status(ctx, id)
	}
	st = Status{ID: m.ID, Kind: m.Kind, Queue: m.Queue, State: Pending, Priority: m.Priority, MaxAttempts: m.MaxAttempts,
		Subject: m.Meta[metaSubject], Tenant: m.Meta[metaTenant], EnqueuedAt: m.EnqueuedAt, RunAt: m.RunAt, UpdatedAt: m.EnqueuedAt}
	if m.RunAt.After(c.now()) {
		st.State = Scheduled
	}
	return st, nil
}

// cancelWaiting cancels a job of EnqueueTx still in the outbox: it hands
// the job to the backend first, as the relay would (the relay's own send
// is then a duplicate of the same ID, which the backend ignores), and
// cancels it there, so that its record says canceled.
func (c *Client) cancelWaiting(ctx context.Context, id string) (Status, error) {
	m, ok, err := outbox.Waiting(ctx, c.outbox, id)
	if err != nil {
		return Status{}, err
	}
	if ok {
		res, err := c.backend.Enqueue(ctx, []port.Message{m})
		if err == nil && len(res) == 1 {
			err = res[0].Err
		}
		if err != nil {
			return Status{}, fmt.Errorf("queue: cancel job %s waiting in the outbox: %w", id, err)
		}
	}
	return c.backend.Cancel(ctx, id)
}

// Cancel stops a job that has not finished: a waiting job (in the
// backend, or in the outbox) never runs; a job running in this process
// has its ctx canceled; one running elsewhere keeps running, but its
// outcome is discarded. It returns ErrNotFound or ErrFinished (with the
// record) when there is nothing to cancel.
func (c *Client) Cancel(ctx context.Context, id string) (Status, error) {
	if QueueOf(id) == "" {
		return Status{}, ErrNotFound
	}
	st, err := c.backend.Cancel(ctx, id)
	if c.outbox != nil && errors.Is(err, ErrNotFound) {
		st, err = c.cancelWaiting(ctx, id)
	}
	if err != nil {
		return st, err
	}
	c.mu.Lock()
	a := c.running[id]
	c.mu.Unlock()
	if a != nil {
		a.canceled.Store(true)
		a.cancel()
	}
	c.publish(ctx, st, app.JobEvent{Status: string(Canceled), Attempt: st.Attempts})
	return st, nil
}

// DeadLetters returns the backend's dead-letter operations, or an error
// when it has none.
func (c *Client) DeadLetters() (port.DeadLetters, error) {
	d, ok := c.backend.(port.DeadLetters)
	if !ok {
		return nil, fmt.Errorf("queue: the backend %T has no dead letters", c.backend)
	}
	return d, nil
}

// publish sends e, completed from st, to every sink; without sinks it
// costs nothing.
func (c *Client) publish(ctx context.Context, st Status, e app.JobEvent) {
	if len(c.sinks) == 0 {
		return
	}
	e.ID, e.Kind, e.Queue, e.Subject, e.Tenant = st.ID, st.Kind, st.Queue, st.Subject, st.Tenant
	if e.At.IsZero() {
		e.At = c.now()
	}
	for _, s := range c.sinks {
		s.JobEvent(ctx, e)
	}
}
