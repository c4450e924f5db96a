// Package redisstream is the Redis Streams backend of the queue port: a
// stream per queue and priority with one consumer group, a sorted set of
// delayed and retrying jobs, a sorted set of dead letters and a hash per
// job (its message and status record). Workers read in batches with
// XREADGROUP, acknowledge and record the outcome in one pipelined round
// trip, and keep their deliveries alive with heartbeats; a delivery idle
// for ReclaimAfter (its worker died) is claimed by another worker with
// XAUTOCLAIM. Every key of a queue shares one hash tag, and every script
// touches only the keys it declares, so it runs on Redis Cluster as on a
// single server.
package redisstream

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/apexgo/apex/queue/port"
)

// Config configures a [Queue]. Zero fields take the defaults.
type Config struct {
	// Prefix starts every key (no braces). Keys of queue q are
	// "{<prefix><q>}:...".
	Prefix string
	// Group is the consumer group. Default [DefaultGroup].
	Group string
	// Consumer names this process in the group. Default: host, pid and
	// random bits.
	Consumer string
	// Heartbeat is how often deliveries are marked alive. Default
	// [DefaultHeartbeat].
	Heartbeat time.Duration
	// ReclaimAfter is how long a delivery may go without a heartbeat
	// before another worker takes it. Default 3 × Heartbeat.
	ReclaimAfter time.Duration
	// StatusTTL keeps records of succeeded and canceled jobs. Default
	// port.DefaultStatusTTL.
	StatusTTL time.Duration
	// DeadRetention keeps dead letters. Default port.DefaultDeadRetention.
	DeadRetention time.Duration
	// ReleaseDelay is how long a job of a kind the fetching worker does
	// not handle waits. Default port.DefaultReleaseDelay.
	ReleaseDelay time.Duration
	// CommandTimeout bounds each call without a deadline of its own (a
	// batch: per started thousand).
	// Default [DefaultCommandTimeout].
	CommandTimeout time.Duration
	// Now is the clock of run times. Default time.Now.
	Now func() time.Time
}

// Queue is a [port.Queue] on Redis Streams.
type Queue struct {
	c   rueidis.Client
	cfg Config
	// Durations of cfg in milliseconds, as script arguments.
	releaseMS, deadMS, statusMS string

	mu       sync.Mutex
	queues   map[string]*queueState
	inflight map[string]map[string]struct{} // stream → entries this process holds

	stop     chan struct{}
	done     chan struct{}
	closeOne sync.Once
	closed   chan struct{}
}

type queueState struct {
	name    string
	keys    keys
	mu      sync.Mutex // guards the fields below
	grouped bool
	nextDue time.Time // earliest delayed job known; zero: unknown
	lastMov time.Time
	lastRec time.Time
	buf     [4][]entry // fetched entries not yet handed out, by priority
	cw      [4]int
}

type entry struct {
	stream string
	id     string // stream entry ID
	job    string
}

type keys struct {
	tag     string
	streams [4]string // by priority
	delayed string
	dead    string
}

func (k keys) job(id string) string            { return k.tag + ":j:" + id }
func (k keys) unique(key string) string        { return k.tag + ":u:" + key }
func member(p port.Priority, id string) string { return strconv.Itoa(int(p)) + "|" + id }

var (
	_ port.Queue       = (*Queue)(nil)
	_ port.Progressor  = (*Queue)(nil)
	_ port.DeadLetters = (*Queue)(nil)
	_ port.Inspector   = (*Queue)(nil)
	_ port.Pinger      = (*Queue)(nil)
	_ port.Closer      = (*Queue)(nil)
)

// New returns a Queue on client and starts its heartbeats; Close stops
// them (it does not close client).
func New(client rueidis.Client, cfg Config) (*Queue, error) {
	if client == nil {
		return nil, errors.New("redisstream: a rueidis client is required")
	}
	var errs []error
	if strings.ContainsAny(cfg.Prefix, "{}") {
		errs = append(errs, errors.New("redisstream: Prefix must not contain braces (they set the hash tag)"))
	}
	for name, d := range map[string]time.Duration{"Heartbeat": cfg.Heartbeat, "ReclaimAfter": cfg.ReclaimAfter, "StatusTTL": cfg.StatusTTL,
		"DeadRetention": cfg.DeadRetention, "ReleaseDelay": cfg.ReleaseDelay, "CommandTimeout": cfg.CommandTimeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("redisstream: %s must not be negative", name))
		}
	}
	cfg.Heartbeat = cmp.Or(cfg.Heartbeat, DefaultHeartbeat)
	cfg.ReclaimAfter = cmp.Or(cfg.ReclaimAfter, 3*cfg.Heartbeat)
	if cfg.ReclaimAfter < 2*cfg.Heartbeat {
		errs = append(errs, fmt.Errorf("redisstream: ReclaimAfter (%v) must be at least two heartbeats (%v)", cfg.ReclaimAfter, 2*cfg.Heartbeat))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.Group = cmp.Or(cfg.Group, DefaultGroup)
	cfg.StatusTTL = cmp.Or(cfg.StatusTTL, port.DefaultStatusTTL)
	cfg.DeadRetention = cmp.Or(cfg.DeadRetention, port.DefaultDeadRetention)
	cfg.ReleaseDelay = cmp.Or(cfg.ReleaseDelay, port.DefaultReleaseDelay)
	cfg.CommandTimeout = cmp.Or(cfg.CommandTimeout, DefaultCommandTimeout)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Consumer == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		cfg.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	q := &Queue{c: client, cfg: cfg, queues: map[string]*queueState{}, inflight: map[string]map[string]struct{}{},
		stop: make(chan struct{}), done: make(chan struct{}), closed: make(chan struct{}),
		releaseMS: strconv.FormatInt(cfg.ReleaseDelay.Milliseconds(), 10), deadMS: strconv.FormatInt(cfg.DeadRetention.Milliseconds(), 10),
		statusMS: strconv.FormatInt(cfg.StatusTTL.Milliseconds(), 10)}
	go q.heartbeats()
	return q, nil
}

// Consumer is this process's name in the consumer group.
func (q *Queue) Consumer() string { return q.cfg.Consumer }

func (q *Queue) state(name string) *queueState {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.queues[name]
	if s == nil {
		tag := "{" + q.cfg.Prefix + name + "}"
		k := keys{tag: tag, delayed: tag + ":d", dead: tag + ":x"}
		for p := port.Low; p <= port.High; p++ {
			k.streams[p] = tag + ":s:" + strconv.Itoa(int(p))
		}
		s = &queueState{name: name, keys: k}
		q.queues[name] = s
	}
	return s
}

// queueOf returns the queue named in a job ID ("<queue>.<random>").
func queueOf(id string) string {
	i := strings.IndexByte(id, '.')
	if i <= 0 || i == len(id)-1 {
		return ""
	}
	return id[:i]
}

func (q *Queue) isClosed() bool {
	select {
	case <-q.closed:
		return true
	default:
		return false
	}
}

func (q *Queue) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, q.cfg.CommandTimeout)
}

// batchCtx is ctx with, when it has no deadline, CommandTimeout for
// every started thousand commands of a batch.
func (q *Queue) batchCtx(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, q.cfg.CommandTimeout*time.Duration(1+n/1000))
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func prio(p port.Priority) port.Priority {
	if p < port.Low || p > port.High {
		return port.Normal
	}
	return p
}

// Enqueue implements port.Queue: one script per message, all pipelined
// in one round trip (per hash slot on a cluster).
func (q *Queue) Enqueue(ctx context.Context, msgs []port.Message) ([]port.Enqueued, error) {
	if q.isClosed() {
		return nil, port.ErrClosed
	}
	ctx, cancel := q.batchCtx(ctx, len(msgs))
	defer cancel()
	now := q.cfg.Now()
	execs := make([]rueidis.LuaExec, len(msgs))
	var due time.Time
	for i, m := range msgs {
		if m.ID == "" || m.Kind == "" || m.Queue == "" || queueOf(m.ID) != m.Queue {
			return nil, errors.New("redisstream: a message needs a Kind, a Queue and an ID starting with the queue's name and a dot")
		}
		s := q.state(m.Queue)
		p := prio(m.Priority)
		if m.EnqueuedAt.IsZero() {
			m.EnqueuedAt = now
		}
		runAt := "0"
		if m.RunAt.After(now) {
			runAt = ms(m.RunAt)
			if due.IsZero() || m.RunAt.Before(due) {
				due = m.RunAt
			}
		}
		uk, hasUK := s.keys.job(m.ID), ""
		if m.UniqueKey != "" {
			uk, hasUK = s.keys.unique(m.UniqueKey), "1"
		}
		execs[i] = rueidis.LuaExec{
			Keys: []string{s.keys.job(m.ID), s.keys.streams[p], s.keys.delayed, uk},
			Args: []string{m.ID, hasUK, strconv.FormatInt(max(m.UniqueFor.Milliseconds(), 1), 10), runAt, ms(now), member(p, m.ID),
				"kind", m.Kind, "queue", m.Queue, "payload", string(m.Payload), "prio", strconv.Itoa(int(p)),
				"max", strconv.Itoa(m.MaxAttempts), "enq", ms(m.EnqueuedAt), "upd", ms(now)},
		}
		// Empty fields are left out (a missing field reads as empty or
		// zero): fewer to write and to keep.
		a := &execs[i].Args
		if m.Timeout > 0 {
			*a = append(*a, "timeout", strconv.FormatInt(m.Timeout.Milliseconds(), 10))
		}
		if m.UniqueKey != "" {
			*a = append(*a, "uk", m.UniqueKey)
		}
		if len(m.Meta) > 0 {
			meta, _ := json.Marshal(m.Meta)
			*a = append(*a, "meta", string(meta))
		}
		if runAt != "0" {
			*a = append(*a, "runat", runAt)
		}
	}
	res := byQueue(ctx, q.c, enqueueScript, msgs, func(m port.Message) string { return m.Queue }, execs)
	out := make([]port.Enqueued, len(msgs))
	for i, r := range res {
		if r.err != nil { // the call failed as a whole (Redis unreachable...)
			return nil, fmt.Errorf("redisstream: enqueue: %w", r.err)
		}
		arr, err := r.ToArray()
		if err != nil || len(arr) < 2 {
			// This job's own error (a unique key of the wrong type...):
			// it wrote nothing, the others of the batch are stored.
			out[i] = port.Enqueued{ID: msgs[i].ID, Err: fmt.Errorf("redisstream: enqueue %s: %w", msgs[i].ID, cmp.Or(err, errors.New("short reply")))}
			continue
		}
		stored, _ := arr[0].AsInt64()
		id, _ := arr[1].ToString()
		out[i] = port.Enqueued{ID: id, Duplicate: stored == 0}
	}
	if !due.IsZero() {
		for _, m := range msgs {
			s := q.state(m.Queue)
			s.mu.Lock()
			if s.nextDue.IsZero() || due.Before(s.nextDue) {
				s.nextDue = due
			}
			s.mu.Unlock()
		}
	}
	return out, nil
}

// byQueue runs script over execs (one per item), one batch per queue (a
// queue's keys share a hash slot), the batches pipelined together; the
// results are in the order of items.
func byQueue[T any](ctx context.Context, c rueidis.Client, script *batchScript, items []T, queue func(T) string, execs []rueidis.LuaExec) []batchResult {
	if len(items) == 0 {
		return nil
	}
	first := queue(items[0])
	one := true
	for _, it := range items[1:] {
		if queue(it) != first {
			one = false
			break
		}
	}
	if one {
		return script.Exec(ctx, c, execs)
	}
	var order []string
	idx := map[string][]int{}
	for i, it := range items {
		name := queue(it)
		if _, ok := idx[name]; !ok {
			order = append(order, name)
		}
		idx[name] = append(idx[name], i)
	}
	out := make([]batchResult, len(items))
	var wg sync.WaitGroup
	for _, name := range order {
		is := idx[name]
		part := make([]rueidis.LuaExec, len(is))
		for j, i := range is {
			part[j] = execs[i]
		}
		wg.Add(1)
		go func() { // rueidis pipelines the concurrent calls
			defer wg.Done()
			for j, r := range script.Exec(ctx, c, part) {
				out[is[j]] = r
			}
		}()
	}
	wg.Wait()
	return out
}

// ensureGroup creates the consumer group of s's streams once.
func (q *Queue) ensureGroup(ctx context.Context, s *queueState) error {
	s.mu.Lock()
	grouped := s.grouped
	s.mu.Unlock()
	if grouped {
		return nil
	}
	cmds := make(rueidis.Commands, 0, 3)
	for p := port.Low; p <= port.High; p++ {
		cmds = append(cmds, q.c.B().XgroupCreate().Key(s.keys.streams[p]).Group(q.cfg.Group).Id("0").Mkstream().Build())
	}
	for _, r := range q.c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
			return fmt.Errorf("redisstream: create consumer group: %w", err)
		}
	}
	s.mu.Lock()
	s.grouped = true
	s.mu.Unlock()
	return nil
}

// Fetch implements port.Queue. Several Fetch calls on one queue may run
// at once (a worker runs a few fetchers per queue).
func (q *Queue) Fetch(ctx context.Context, p port.FetchParams) ([]port.Delivery, error) {
	if q.isClosed() {
		return nil, port.ErrClosed
	}
	if p.Max < 1 {
		return nil, errors.New("redisstream: FetchParams.Max must be at least 1")
	}
	s := q.state(p.Queue)
	kinds := ""
	if len(p.Kinds) > 0 {
		kinds = "," + strings.Join(p.Kinds, ",") + ","
	}
	deadline := time.Now().Add(p.Wait)
	for {
		out, err := q.fetchOnce(ctx, s, p.Max, kinds, time.Until(deadline))
		if err != nil || len(out) > 0 || !time.Now().Before(deadline) || ctx.Err() != nil || q.isClosed() {
			if ctx.Err() != nil {
				err = nil
			}
			return out, err
		}
	}
}

func (q *Queue) fetchOnce(ctx context.Context, s *queueState, n int, kinds string, wait time.Duration) ([]port.Delivery, error) {
	cctx, cancel := context.WithTimeout(ctx, q.cfg.CommandTimeout)
	defer cancel()
	if err := q.ensureGroup(cctx, s); err != nil {
		return nil, err
	}
	now := q.cfg.Now()
	s.mu.Lock()
	// Move due delayed jobs when one may be due, and at least once a
	// second for jobs that other processes delayed; reclaim once a heartbeat.
	doMove := now.Sub(s.lastMov) >= time.Second || (!s.nextDue.IsZero() && !now.Before(s.nextDue))
	if doMove {
		s.lastMov = now
	}
	doReclaim := now.Sub(s.lastRec) >= q.cfg.Heartbeat
	if doReclaim {
		s.lastRec = now
	}
	s.mu.Unlock()
	if doMove {
		if err := q.move(cctx, s, now); err != nil {
			return nil, err
		}
	}
	if doReclaim {
		if err := q.reclaim(cctx, s, n); err != nil {
			return nil, err
		}
	}
	// Read the streams whose buffer is empty, so that every priority with
	// jobs waiting has one to pick from.
	var streams []string
	block := time.Duration(0)
	s.mu.Lock()
	for p := port.High; p >= port.Low; p-- {
		if len(s.buf[p]) == 0 {
			streams = append(streams, s.keys.streams[p])
		}
	}
	if s.buffered() == 0 {
		block = wait
		if !s.nextDue.IsZero() {
			block = min(block, max(s.nextDue.Sub(now), time.Millisecond))
		}
		block = min(block, q.cfg.Heartbeat) // reclaim and move run at least once a heartbeat
	}
	s.mu.Unlock()
	// A read without BLOCK shares the pipelined connections; only when it
	// finds nothing does a blocking read (on a dedicated connection) wait.
	got, err := q.read(ctx, s, streams, n, 0)
	if err != nil {
		return nil, err
	}
	if got == 0 && block > 0 {
		if _, err := q.read(ctx, s, streams, n, block); err != nil {
			return nil, err
		}
	}
	return q.start(ctx, s, n, kinds)
}

// move runs the mover script.
func (q *Queue) move(ctx context.Context, s *queueState, now time.Time) error {
	k := s.keys
	next, err := moveScript.Exec(ctx, q.c, []string{k.delayed, k.streams[1], k.streams[2], k.streams[3]}, []string{ms(now), "1000"}).AsInt64()
	if err != nil {
		return fmt.Errorf("redisstream: move delayed jobs: %w", err)
	}
	s.mu.Lock()
	s.nextDue = time.Time{}
	if next >= 0 {
		s.nextDue = time.UnixMilli(next)
	}
	s.mu.Unlock()
	return nil
}

// read takes new entries of streams (highest priority first) into the
// buffer, blocking up to block when none has any.
func (q *Queue) read(ctx context.Context, s *queueState, streams []string, n int, block time.Duration) (int, error) {
	if len(streams) == 0 {
		return 0, nil
	}
	ids := make([]string, len(streams))
	for i := range ids {
		ids[i] = ">"
	}
	b := q.c.B().Xreadgroup().Group(q.cfg.Group, q.cfg.Consumer).Count(int64(n))
	var cmd rueidis.Completed
	if ms := block.Milliseconds(); ms > 0 {
		cmd = b.Block(ms).Streams().Key(streams...).Id(ids...).Build()
	} else {
		cmd = b.Streams().Key(streams...).Id(ids...).Build()
	}
	rctx, cancel := context.WithTimeout(ctx, block+q.cfg.CommandTimeout)
	defer cancel()
	res, err := q.c.Do(rctx, cmd).AsXRead()
	if rueidis.IsRedisNil(err) || (err != nil && ctx.Err() != nil) {
		return 0, nil
	}
	if err != nil {
		if strings.Contains(err.Error(), "NOGROUP") {
			s.mu.Lock()
			s.grouped = false // the server lost the group (restarted without persistence): create it again
			s.mu.Unlock()
		}
		return 0, fmt.Errorf("redisstream: read: %w", err)
	}
	got := 0
	for p := port.Low; p <= port.High; p++ {
		for _, e := range res[s.keys.streams[p]] {
			q.hold(s.keys.streams[p], e.ID, true)
			s.add(p, entry{stream: s.keys.streams[p], id: e.ID, job: e.FieldValues["id"]})
			got++
		}
	}
	return got, nil
}

// reclaim takes over entries idle for ReclaimAfter: their worker died.
func (q *Queue) reclaim(ctx context.Context, s *queueState, n int) error {
	idle := strconv.FormatInt(q.cfg.ReclaimAfter.Milliseconds(), 10)
	for p := port.High; p >= port.Low && n > 0; p-- {
		stream := s.keys.streams[p]
		arr, err := q.c.Do(ctx, q.c.B().Xautoclaim().Key(stream).Group(q.cfg.Group).Consumer(q.cfg.Consumer).
			MinIdleTime(idle).Start("0-0").Count(int64(n)).Build()).ToArray()
		if err != nil {
			return fmt.Errorf("redisstream: reclaim: %w", err)
		}
		if len(arr) < 2 {
			continue
		}
		es, err := arr[1].AsXRange()
		if err != nil {
			return fmt.Errorf("redisstream: reclaim: %w", err)
		}
		for _, e := range es {
			if e.FieldValues == nil { // deleted meanwhile
				continue
			}
			q.hold(stream, e.ID, true)
			s.add(p, entry{stream: stream, id: e.ID, job: e.FieldValues["id"]})
			n--
		}
	}
	return nil
}

func (s *queueState) add(p port.Priority, e entry) {
	s.mu.Lock()
	s.buf[p] = append(s.buf[p], e)
	s.mu.Unlock()
}

func (s *queueState) buffered() int { return len(s.buf[1]) + len(s.buf[2]) + len(s.buf[3]) }

// take pops the next buffered entry by smooth weighted round robin.
func (s *queueState) take() (entry, bool) {
	total, best := 0, port.Priority(0)
	for p := port.Low; p <= port.High; p++ {
		if len(s.buf[p]) == 0 {
			continue
		}
		s.cw[p] += port.Weights[p]
		total += port.Weights[p]
		if best == 0 || s.cw[p] > s.cw[best] {
			best = p
		}
	}
	if best == 0 {
		return entry{}, false
	}
	s.cw[best] -= total
	e := s.buf[best][0]
	s.buf[best] = s.buf[best][1:]
	return e, true
}

func (q *Queue) hold(stream, id string, on bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := q.inflight[stream]
	if on {
		if m == nil {
			m = map[string]struct{}{}
			q.inflight[stream] = m
		}
		m[id] = struct{}{}
		return
	}
	delete(m, id)
}

// start turns up to n buffered entries into attempts, in one round trip.
func (q *Queue) start(ctx context.Context, s *queueState, n int, kinds string) ([]port.Delivery, error) {
	var es []entry
	s.mu.Lock()
	for len(es) < n {
		e, ok := s.take()
		if !ok {
			break
		}
		es = append(es, e)
	}
	s.mu.Unlock()
	if len(es) == 0 {
		return nil, nil
	}
	now := ms(q.cfg.Now())
	execs := make([]rueidis.LuaExec, len(es))
	for i, e := range es {
		execs[i] = rueidis.LuaExec{
			Keys: []string{s.keys.job(e.job), e.stream, s.keys.delayed, s.keys.dead},
			Args: []string{e.id, q.cfg.Group, kinds, now, q.releaseMS, e.job, q.deadMS},
		}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), q.cfg.CommandTimeout)
	defer cancel()
	var out []port.Delivery
	var firstErr error
	var unhold []rueidis.LuaExec
	for i, r := range startScript.Exec(cctx, q.c, execs) {
		e := es[i]
		arr, err := r.ToArray()
		if err != nil {
			// Still pending under this consumer: the next reclaim retries it.
			q.hold(e.stream, e.id, false)
			firstErr = cmp.Or(firstErr, fmt.Errorf("redisstream: start: %w", err))
			continue
		}
		what, _ := arr[0].ToString()
		if what != "run" {
			q.hold(e.stream, e.id, false)
			if what == "dead" {
				if uk, _ := arr[1].ToString(); uk != "" {
					unhold = append(unhold, rueidis.LuaExec{Keys: []string{s.keys.unique(uk)}, Args: []string{e.job}})
				}
			}
			continue
		}
		att, _ := arr[1].ToString()
		var h []rueidis.RedisMessage
		if len(arr) > 2 {
			h, _ = arr[2].ToArray()
		}
		d, err := delivery(e, att, h)
		if err != nil {
			q.hold(e.stream, e.id, false)
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		out = append(out, d)
	}
	if len(unhold) > 0 {
		unholdScript.ExecMulti(cctx, q.c, unhold...)
	}
	if len(out) == 0 {
		return nil, firstErr
	}
	return out, nil
}

func fields(arr []rueidis.RedisMessage) map[string]string {
	f := make(map[string]string, len(arr)/2)
	for i := 0; i+1 < len(arr); i += 2 {
		k, _ := arr[i].ToString()
		v, _ := arr[i+1].ToString()
		f[k] = v
	}
	return f
}

func delivery(e entry, att string, arr []rueidis.RedisMessage) (port.Delivery, error) {
	f := fields(arr)
	m, _ := message(e.job, f)
	a, err := strconv.Atoi(att)
	if err != nil {
		return port.Delivery{}, fmt.Errorf("redisstream: job %s: bad attempt %q", e.job, att)
	}
	return port.Delivery{Message: m, Attempt: a, Token: e.stream + " " + e.id}, nil
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
func msTime(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// message and status decode a job hash.
func message(id string, f map[string]string) (port.Message, port.Status) {
	var meta map[string]string
	_ = json.Unmarshal([]byte(f["meta"]), &meta)
	m := port.Message{ID: id, Kind: f["kind"], Queue: f["queue"], Payload: []byte(f["payload"]), Priority: port.Priority(atoi(f["prio"])),
		MaxAttempts: atoi(f["max"]), Timeout: time.Duration(atoi(f["timeout"])) * time.Millisecond, RunAt: msTime(f["runat"]),
		UniqueKey: f["uk"], Meta: meta, EnqueuedAt: msTime(f["enq"])}
	st := port.Status{ID: id, Kind: m.Kind, Queue: m.Queue, State: port.State(f["state"]), Priority: m.Priority,
		Attempts: atoi(f["att"]), MaxAttempts: m.MaxAttempts, LastError: f["err"], Progress: atoi(f["prog"]), Message: f["msg"],
		Subject: meta["subject"], Tenant: meta["tenant"], EnqueuedAt: m.EnqueuedAt, RunAt: m.RunAt,
		StartedAt: msTime(f["start"]), FinishedAt: msTime(f["fin"]), UpdatedAt: msTime(f["upd"])}
	if r := f["res"]; r != "" {
		st.Result = []byte(r)
	}
	return m, st
}

var outcomes = map[port.Outcome]string{port.Succeed: "succeed", port.Retry: "retry", port.Fail: "fail", port.Bury: "bury", port.Abandon: "abandon"}

// Settle implements port.Queue: one script per settlement, pipelined.
func (q *Queue) Settle(ctx context.Context, ss []port.Settlement) error {
	if q.isClosed() {
		return port.ErrClosed
	}
	if len(ss) == 0 {
		return nil
	}
	ctx, cancel := q.batchCtx(ctx, len(ss))
	defer cancel()
	now := ms(q.cfg.Now())
	execs := make([]rueidis.LuaExec, len(ss))
	for i, st := range ss {
		m := st.Delivery.Message
		stream, entryID, ok := strings.Cut(st.Delivery.Token, " ")
		o := outcomes[st.Outcome]
		if !ok || o == "" || m.Queue == "" {
			return fmt.Errorf("redisstream: settle: bad delivery token %q or outcome %d", st.Delivery.Token, st.Outcome)
		}
		k := q.state(m.Queue).keys
		if !slices.Contains(k.streams[:], stream) {
			// A token naming another queue's stream would ack that
			// queue's entry (and cross slots on a Cluster).
			return fmt.Errorf("redisstream: settle: delivery token %q is not of queue %q", st.Delivery.Token, m.Queue)
		}
		uk := k.job(m.ID)
		if m.UniqueKey != "" {
			uk = k.unique(m.UniqueKey)
		}
		p := prio(m.Priority)
		runAt := ""
		if st.Outcome == port.Retry {
			runAt = ms(st.RunAt)
		}
		execs[i] = rueidis.LuaExec{
			Keys: []string{k.job(m.ID), stream, k.delayed, k.dead, uk, k.streams[p]},
			Args: []string{entryID, q.cfg.Group, o, now, st.Error, string(st.Result), runAt, member(p, m.ID),
				q.statusMS, q.deadMS, m.ID, strconv.Itoa(st.Delivery.Attempt)},
		}
	}
	var errs []error
	for i, r := range byQueue(ctx, q.c, settleScript, ss, func(s port.Settlement) string { return s.Delivery.Message.Queue }, execs) {
		stream, entryID, _ := strings.Cut(ss[i].Delivery.Token, " ")
		// Settled or not, this process no longer keeps the entry alive:
		// one whose outcome could not be recorded (Redis down, a corrupt
		// record) is reclaimed after ReclaimAfter and runs again (at
		// least once), instead of staying pending, heartbeated, for as
		// long as this process lives.
		q.hold(stream, entryID, false)
		if err := r.Error(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("redisstream: settle: %w", errors.Join(errs...))
	}
	return nil
}

// Status implements port.Queue.
func (q *Queue) Status(ctx context.Context, id string) (port.Status, error) {
	if q.isClosed() {
		return port.Status{}, port.ErrClosed
	}
	name := queueOf(id)
	if name == "" {
		return port.Status{}, port.ErrNotFound
	}
	ctx, cancel := q.ctx(ctx)
	defer cancel()
	h, err := q.c.Do(ctx, q.c.B().Hgetall().Key(q.state(name).keys.job(id)).Build()).AsStrMap()
	if err != nil {
		return port.Status{}, fmt.Errorf("redisstream: status: %w", err)
	}
	if len(h) == 0 {
		return port.Status{}, port.ErrNotFound
	}
	return q.status(id, h), nil
}

func (q *Queue) status(id string, h map[string]string) port.Status {
	_, st := message(id, h)
	if st.State == port.Scheduled && !st.RunAt.After(q.cfg.Now()) {
		st.State = port.Pending
	}
	return st
}

// Cancel implements port.Queue.
func (q *Queue) Cancel(ctx context.Context, id string) (port.Status, error) {
	if q.isClosed() {
		return port.Status{}, port.ErrClosed
	}
	name := queueOf(id)
	if name == "" {
		return port.Status{}, port.ErrNotFound
	}
	ctx, cancel := q.ctx(ctx)
	defer cancel()
	k := q.state(name).keys
	arr, err := cancelScript.Exec(ctx, q.c, []string{k.job(id), k.delayed},
		[]string{ms(q.cfg.Now()), strconv.FormatInt(q.cfg.StatusTTL.Milliseconds(), 10), id}).ToArray()
	if err != nil {
		return port.Status{}, fmt.Errorf("redisstream: cancel: %w", err)
	}
	what, _ := arr[0].ToString()
	if what == "nf" {
		return port.Status{}, port.ErrNotFound
	}
	if what == "ok" {
		if uk, _ := arr[1].ToString(); uk != "" {
			if err := unholdScript.Exec(ctx, q.c, []string{k.unique(uk)}, []string{id}).Error(); err != nil {
				return port.Status{}, fmt.Errorf("redisstream: cancel: %w", err)
			}
		}
	}
	st, err := q.Status(ctx, id)
	if err != nil {
		return st, err
	}
	if what == "fin" {
		return st, port.ErrFinished
	}
	return st, nil
}

// Progress implements port.Progressor.
func (q *Queue) Progress(ctx context.Context, id string, percent int, message string) error {
	if q.isClosed() {
		return port.ErrClosed
	}
	name := queueOf(id)
	if name == "" {
		return port.ErrNotFound
	}
	ctx, cancel := q.ctx(ctx)
	defer cancel()
	n, err := progressScript.Exec(ctx, q.c, []string{q.state(name).keys.job(id)},
		[]string{strconv.Itoa(percent), message, ms(q.cfg.Now())}).AsInt64()
	if err != nil {
		return fmt.Errorf("redisstream: progress: %w", err)
	}
	if n == 0 {
		return port.ErrNotFound
	}
	return nil
}

// Dead implements port.DeadLetters.
func (q *Queue) Dead(ctx context.Context, queue string, offset, limit int) ([]port.Status, error) {
	if q.isClosed() {
		return nil, port.ErrClosed
	}
	if limit <= 0 {
		return nil, nil
	}
	ctx, cancel := q.ctx(ctx)
	defer cancel()
	k := q.state(queue).keys
	ids, err := q.c.Do(ctx, q.c.B().Zrevrange().Key(k.dead).Start(int64(offset)).Stop(int64(offset+limit-1)).Build()).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("redisstream: dead letters: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make(rueidis.Commands, len(ids))
	for i, id := range ids {
		cmds[i] = q.c.B().Hgetall().Key(k.job(id)).Build()
	}
	out := make([]port.Status, 0, len(ids))
	for i, r := range q.c.DoMulti(ctx, cmds...) {
		h, err := r.AsStrMap()
		if err != nil {
			return nil, fmt.Errorf("redisstream: dead letters: %w", err)
		}
		if len(h) > 0 {
			out = append(out, q.status(ids[i], h))
		}
	}
	return out, nil
}

// deadIDs returns ids, or every dead letter of the queue when ids is empty.
func (q *Queue) deadIDs(ctx context.Context, k keys, ids []string) ([]string, error) {
	if len(ids) > 0 {
		return ids, nil
	}
	all, err := q.c.Do(ctx, q.c.B().Zrange().Key(k.dead).Min("0").Max("-1").Build()).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("redisstream: dead letters: %w", err)
	}
	return all, nil
}

func (q *Queue) eachDead(ctx context.Context, queue string, ids []string, script *script, extra func(k keys) []string, args func(id string) []string) (int, error) {
	if q.isClosed() {
		return 0, port.ErrClosed
	}
	ctx, cancel := q.ctx(ctx)
	defer cancel()
	k := q.state(queue).keys
	ids, err := q.deadIDs(ctx, k, ids)
	if err != nil {
		return 0, err
	}
	n := 0
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 500)]
		ids = ids[len(batch):]
		execs := make([]rueidis.LuaExec, len(batch))
		for i, id := range batch {
			execs[i] = rueidis.LuaExec{Keys: append([]string{k.job(id), k.dead}, extra(k)...), Args: args(id)}
		}
		for _, r := range script.ExecMulti(ctx, q.c, execs...) {
			v, err := r.AsInt64()
			if err != nil {
				return n, fmt.Errorf("redisstream: dead letters: %w", err)
			}
			n += int(v)
		}
	}
	return n, nil
}

// Replay implements port.DeadLetters.
func (q *Queue) Replay(ctx context.Context, queue string, ids ...string) (int, error) {
	now := ms(q.cfg.Now())
	return q.eachDead(ctx, queue, ids, replayScript,
		func(k keys) []string { return []string{k.streams[1], k.streams[2], k.streams[3]} },
		func(id string) []string { return []string{id, now} })
}

// Purge implements port.DeadLetters.
func (q *Queue) Purge(ctx context.Context, queue string, ids ...string) (int, error) {
	return q.eachDead(ctx, queue, ids, purgeScript, func(keys) []string { return nil }, func(id string) []string { return []string{id} })
}

// Stats implements port.Inspector.
func (q *Queue) Stats(ctx context.Context, queue string) (port.Stats, error) {
	if q.isClosed() {
		return port.Stats{}, port.ErrClosed
	}
	ctx, cancel := q.ctx(ctx)
	defer cancel()
	k := q.state(queue).keys
	cmds := rueidis.Commands{q.c.B().Zcard().Key(k.delayed).Build(), q.c.B().Zcard().Key(k.dead).Build()}
	for p := port.Low; p <= port.High; p++ {
		cmds = append(cmds, q.c.B().Xlen().Key(k.streams[p]).Build(), q.c.B().Xpending().Key(k.streams[p]).Group(q.cfg.Group).Build())
	}
	res := q.c.DoMulti(ctx, cmds...)
	var st port.Stats
	var err error
	if st.Scheduled, err = res[0].AsInt64(); err != nil {
		return st, fmt.Errorf("redisstream: stats: %w", err)
	}
	if st.Dead, err = res[1].AsInt64(); err != nil {
		return st, fmt.Errorf("redisstream: stats: %w", err)
	}
	for i := 2; i < len(res); i += 2 {
		n, err := res[i].AsInt64()
		if err != nil {
			return st, fmt.Errorf("redisstream: stats: %w", err)
		}
		var pending int64
		if arr, err := res[i+1].ToArray(); err == nil && len(arr) > 0 {
			pending, _ = arr[0].AsInt64()
		}
		st.Ready += n - pending
		st.Running += pending
	}
	return st, nil
}

// Ping implements port.Pinger.
func (q *Queue) Ping(ctx context.Context) error {
	ctx, cancel := q.ctx(ctx)
	defer cancel()
	return q.c.Do(ctx, q.c.B().Ping().Build()).Error()
}

// heartbeats keeps this process's deliveries alive until Close.
func (q *Queue) heartbeats() {
	defer close(q.done)
	t := time.NewTicker(q.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-q.stop:
			return
		case <-t.C:
			q.beat()
		}
	}
}

func (q *Queue) beat() {
	q.mu.Lock()
	var execs []rueidis.LuaExec
	for stream, ids := range q.inflight {
		if len(ids) == 0 {
			delete(q.inflight, stream)
			continue
		}
		args := []string{q.cfg.Group, q.cfg.Consumer}
		for id := range ids {
			args = append(args, id)
		}
		execs = append(execs, rueidis.LuaExec{Keys: []string{stream}, Args: args})
	}
	q.mu.Unlock()
	if len(execs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), q.cfg.CommandTimeout)
	defer cancel()
	for i, r := range heartbeatScript.ExecMulti(ctx, q.c, execs...) {
		lost, err := r.AsStrSlice()
		if err != nil {
			continue // the next beat tries again; ReclaimAfter leaves room for two misses
		}
		for _, id := range lost {
			q.hold(execs[i].Keys[0], id, false)
		}
	}
}

// Close implements port.Closer: heartbeats stop, so this process's
// unsettled deliveries are reclaimed by other workers after ReclaimAfter.
func (q *Queue) Close() error {
	q.closeOne.Do(func() {
		close(q.closed)
		close(q.stop)
		<-q.done
	})
	return nil
}
