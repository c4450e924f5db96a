package redisconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
	"go.uber.org/zap"
)

// ErrUnavailable is returned by every command of the shared client while
// Redis is known to be down, for use with errors.Is: the server refused
// or dropped connections, or stopped answering (see [New]). Modules
// translate it into their own sentinel (cache.ErrUnavailable,
// auth.ErrUnavailable) and answer 503.
var ErrUnavailable = errors.New("redis: unavailable")

// unavailableError is ErrUnavailable with its cause and since when.
type unavailableError struct {
	since time.Time
	cause error
}

// Error says since when Redis is unavailable, and why.
func (e *unavailableError) Error() string {
	return fmt.Sprintf("redis: unavailable since %s, failing fast until it answers again: %v",
		e.since.UTC().Format(time.RFC3339Nano), e.cause)
}

// Unwrap gives ErrUnavailable and the cause.
func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.cause} }

// breaker watches the outcome of commands. Once the server refuses or
// drops connections, or stops answering, it fails every command at once
// with ErrUnavailable, and probes the server in the background (the first
// probe at once, then every probe interval, jittered) until a PING
// succeeds.
type breaker struct {
	base         rueidis.Client // set once, right after the client is built
	interval     time.Duration
	probeTimeout time.Duration
	log          *zap.Logger
	metrics      *breakerMetrics
	inv          *invalidations // nil without client-side caching

	down      atomic.Pointer[unavailableError] // nil while Redis answers
	suspected atomic.Bool                      // a probe after a timeout is running

	// ctx ends at close, ending a probe under way; mu orders starting
	// goroutines before close's wait for them.
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

type breakerMetrics struct {
	up       prometheus.Gauge
	outages  prometheus.Counter
	rejected prometheus.Counter
}

func newBreakerMetrics(reg prometheus.Registerer) (*breakerMetrics, error) {
	m := &breakerMetrics{
		up: prometheus.NewGauge(prometheus.GaugeOpts{Name: "apex_redis_up",
			Help: "1 while the shared Redis client sends commands, 0 while it fails them fast because Redis is down."}),
		outages: prometheus.NewCounter(prometheus.CounterOpts{Name: "apex_redis_outages_total",
			Help: "Times the shared Redis client saw Redis refuse, drop or stop answering connections and started failing fast."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "apex_redis_rejected_total",
			Help: "Commands failed fast, unsent, while Redis was down."}),
	}
	m.up.Set(1)
	if reg != nil {
		for _, c := range []prometheus.Collector{m.up, m.outages, m.rejected} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("redisconn: registering metrics: %w", err)
			}
		}
	}
	return m, nil
}

// failure is how a command's error bears on Redis's health.
type failure int

const (
	none       failure = iota // an answer (even an error reply), or the caller gave up
	suspect                   // a deadline passed: Redis may be frozen, or the caller hurried
	connection                // refused, dropped or timed out at the connection: Redis is down
)

func classify(err error) failure {
	var netErr net.Error
	switch {
	case err == nil, rueidis.IsRedisNil(err), errors.Is(err, context.Canceled),
		errors.Is(err, rueidis.ErrClosing), errors.Is(err, rueidis.ErrDoCacheAborted), errors.Is(err, ErrUnavailable):
		return none
	case errors.Is(err, context.DeadlineExceeded):
		return suspect
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), errors.As(err, &netErr):
		return connection
	}
	return none
}

// retryDelay is the client's RetryDelay: rueidis retries read-only
// commands after network errors until their deadline, which made a read
// against a refusing server take the whole deadline. Connection failures
// and an open breaker are not retried (the breaker answers); other
// retryable errors (a LOADING reply) get two quick retries.
func (b *breaker) retryDelay(attempts int, _ rueidis.Completed, err error) time.Duration {
	if b.down.Load() != nil || classify(err) != none || attempts > 2 {
		return -1
	}
	return time.Duration(attempts) * 5 * time.Millisecond
}

// rejection returns the error of a command failed fast, or nil while
// Redis answers.
func (b *breaker) rejection() error {
	if e := b.down.Load(); e != nil {
		b.metrics.rejected.Inc()
		return e
	}
	return nil
}

// observe looks at a command's error and returns the one to give the
// caller: a connection failure opens the breaker and comes back wrapping
// ErrUnavailable; a deadline starts a probe.
func (b *breaker) observe(err error) error {
	switch classify(err) {
	case connection:
		return b.trip(err)
	case suspect:
		b.suspectTimeout()
	}
	return err
}

// trip opens the breaker (unless open already) and returns cause wrapped
// in the outage's error.
func (b *breaker) trip(cause error) error {
	e := &unavailableError{since: time.Now(), cause: cause}
	if b.down.CompareAndSwap(nil, e) {
		if b.inv != nil {
			b.inv.deliver(nil) // what the Locals hold may miss invalidations from now on
		}
		b.metrics.up.Set(0)
		b.metrics.outages.Inc()
		b.log.Error("Redis is unavailable; every command fails fast until a probe sees it answer", zap.Error(cause))
		b.start(b.probeLoop)
		return e
	}
	if cur := b.down.Load(); cur != nil {
		return &unavailableError{since: cur.since, cause: cause}
	}
	return e
}

// suspectTimeout probes once, in the background, whether Redis still
// answers a PING within the probe timeout; if not, it opens the breaker.
func (b *breaker) suspectTimeout() {
	if b.down.Load() != nil || !b.suspected.CompareAndSwap(false, true) {
		return
	}
	b.start(func() {
		defer b.suspected.Store(false)
		if err := b.ping(); err != nil && b.down.Load() == nil && b.ctx.Err() == nil {
			b.trip(fmt.Errorf("no answer to PING within %v after a command timed out: %w", b.probeTimeout, err))
		}
	})
}

// start runs f in a goroutine that close waits for, unless closed.
func (b *breaker) start(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.wg.Go(f)
	}
}

// ping reports whether Redis answered a PING: an error reply (NOPERM
// after an ACL change, LOADING) is an answer, as for every command.
func (b *breaker) ping() error {
	ctx, cancel := context.WithTimeout(b.ctx, b.probeTimeout)
	defer cancel()
	return b.base.Do(ctx, b.base.B().Ping().Build()).NonRedisError()
}

// probeLoop PINGs Redis, at once and then every interval (±25%), until it
// answers, and then closes the breaker.
func (b *breaker) probeLoop() {
	var wait time.Duration
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-time.After(wait):
		}
		err := b.ping()
		if err == nil {
			e := b.down.Swap(nil)
			b.metrics.up.Set(1)
			if e != nil {
				b.log.Info("Redis answers again; commands are sent again", zap.Duration("outage", time.Since(e.since).Round(time.Millisecond)))
			}
			return
		}
		if e := b.down.Load(); e != nil && classify(err) != none {
			b.down.Store(&unavailableError{since: e.since, cause: err})
		}
		wait = b.interval*3/4 + rand.N(b.interval/2+1)
	}
}

// stop starts no more probes and ends the one under way as far as its
// context can; closing the connections (which rueidis needs to give up a
// read on some paths) ends it for good, and then wait returns.
func (b *breaker) stop() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cancel()
}

// client is the rueidis.Client that the container provides: the
// connection's own client behind the breaker, with every non-blocking
// Do and DoMulti bounded by the command timeout.
type client struct {
	rueidis.Client
	b       *breaker
	timeout time.Duration
	inv     *invalidations // the Locals' feed; nil without client-side caching
}

var _ rueidis.Client = (*client)(nil)

// bound applies the command timeout to a ctx without an earlier deadline.
func (c *client) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= c.timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

// Do implements rueidis.Client: failed fast while Redis is down, bounded
// by the command timeout unless blocking.
func (c *client) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	if err := c.b.rejection(); err != nil {
		return errResult(err)
	}
	if !cmd.IsBlock() {
		var cancel context.CancelFunc
		ctx, cancel = c.bound(ctx)
		defer cancel()
	}
	return c.result(c.Client.Do(ctx, cmd))
}

// DoMulti implements rueidis.Client as Do does, for several commands.
func (c *client) DoMulti(ctx context.Context, multi ...rueidis.Completed) []rueidis.RedisResult {
	if err := c.b.rejection(); err != nil {
		return errResults(err, len(multi))
	}
	blocking := false
	for i := range multi {
		blocking = blocking || multi[i].IsBlock()
	}
	if !blocking {
		var cancel context.CancelFunc
		ctx, cancel = c.bound(ctx)
		defer cancel()
	}
	return c.results(c.Client.DoMulti(ctx, multi...))
}

// DoCache implements rueidis.Client: failed fast while Redis is down. It
// is not bounded by the command timeout: a local hit must stay
// as cheap as a map read. Callers bound it; a frozen server is caught by
// rueidis's background PING, which closes the connection.
func (c *client) DoCache(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) rueidis.RedisResult {
	if err := c.b.rejection(); err != nil {
		return errResult(err)
	}
	return c.result(c.Client.DoCache(ctx, cmd, ttl))
}

// DoMultiCache implements rueidis.Client as DoCache does.
func (c *client) DoMultiCache(ctx context.Context, multi ...rueidis.CacheableTTL) []rueidis.RedisResult {
	if err := c.b.rejection(); err != nil {
		return errResults(err, len(multi))
	}
	return c.results(c.Client.DoMultiCache(ctx, multi...))
}

// Receive implements rueidis.Client: failed fast while Redis is down.
func (c *client) Receive(ctx context.Context, subscribe rueidis.Completed, fn func(msg rueidis.PubSubMessage)) error {
	if err := c.b.rejection(); err != nil {
		return err
	}
	return c.b.observe(c.Client.Receive(ctx, subscribe, fn))
}

// Dedicated implements rueidis.Client: failed fast while Redis is down.
func (c *client) Dedicated(fn func(rueidis.DedicatedClient) error) error {
	if err := c.b.rejection(); err != nil {
		return err
	}
	return c.b.observe(c.Client.Dedicated(fn))
}

// closeGrace bounds how long Close waits for the connections to close and
// the probes to end: against a frozen Redis, rueidis may wait for a reply
// until its write timeout (redis.command_timeout); that finishes in the
// background instead of holding up the app's stop.
const closeGrace = time.Second

// Close stops the probes and closes the connections, waiting for both at
// most closeGrace.
func (c *client) Close() {
	c.b.stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Client.Close()
		c.b.wg.Wait()
	}()
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		c.b.log.Warn("Redis client: connections still closing after the grace period; they finish in the background",
			zap.Duration("grace", closeGrace))
	}
}

func (c *client) result(r rueidis.RedisResult) rueidis.RedisResult {
	if err := r.NonRedisError(); err != nil {
		if e := c.b.observe(err); e != err {
			return errResult(e)
		}
	}
	return r
}

func (c *client) results(rs []rueidis.RedisResult) []rueidis.RedisResult {
	for i, r := range rs {
		rs[i] = c.result(r)
	}
	return rs
}

// resultLayout mirrors rueidis.RedisResult, which has no exported
// constructor for an error result: rueidis's own mock package builds
// results the same way. [layoutMatches] checks it when a client is built.
type resultLayout struct {
	err error
	val rueidis.RedisMessage
}

func errResult(err error) rueidis.RedisResult {
	r := resultLayout{err: err}
	return *(*rueidis.RedisResult)(unsafe.Pointer(&r)) //nolint:gosec // layout checked by layoutMatches
}

func errResults(err error, n int) []rueidis.RedisResult {
	rs := make([]rueidis.RedisResult, n)
	for i := range rs {
		rs[i] = errResult(err)
	}
	return rs
}

// layoutMatches reports whether errResult builds a result that rueidis
// reads back as the error it was given.
func layoutMatches() bool {
	if unsafe.Sizeof(resultLayout{}) != unsafe.Sizeof(rueidis.RedisResult{}) {
		return false
	}
	probe := errors.New("probe")
	r := errResult(probe)
	return r.Error() == probe && r.NonRedisError() == probe && !r.IsCacheHit()
}
