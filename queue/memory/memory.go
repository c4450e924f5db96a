// Package memory is the in-process fallback of the queue port: jobs, their
// status records and the dead letters live in this process's memory, are
// bounded, and are lost when it exits. It has the Redis backend's
// semantics otherwise (it passes the same conformance suite with
// Features{Durable: false, Shared: false}).
package memory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/apexgo/apex/queue/port"
)

// Defaults of [Config].
const (
	// DefaultMaxJobs bounds the jobs not yet finished.
	DefaultMaxJobs = 100_000
	// DefaultMaxFinished bounds the records of finished jobs kept for
	// Status (the oldest go first).
	DefaultMaxFinished = 100_000
	// DefaultMaxDead bounds the dead letters per queue (the oldest go first).
	DefaultMaxDead = 10_000
)

// Config bounds a [Queue]. Zero fields take the defaults.
type Config struct {
	// MaxJobs bounds unfinished jobs: Enqueue beyond it reports
	// port.ErrFull. Default [DefaultMaxJobs].
	MaxJobs int
	// MaxFinished bounds kept records of succeeded and canceled jobs.
	// Default [DefaultMaxFinished].
	MaxFinished int
	// MaxDead bounds each queue's dead letters. Default [DefaultMaxDead].
	MaxDead int
	// StatusTTL is how long a succeeded or canceled job's record is kept.
	// Default port.DefaultStatusTTL.
	StatusTTL time.Duration
	// DeadRetention is how long dead letters are kept. Default
	// port.DefaultDeadRetention.
	DeadRetention time.Duration
	// ReleaseDelay is how long a job of a kind the fetching worker does
	// not handle waits before it is offered again. Default
	// port.DefaultReleaseDelay.
	ReleaseDelay time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

type where uint8

const (
	nowhere where = iota
	inReady
	inDelayed
	inRunning
	inDead
)

type job struct {
	msg   port.Message
	st    port.Status
	where where
	seq   uint64 // invalidates stale heap and list entries
	gone  time.Time
}

type queueState struct {
	ready   [4][]delayed // by priority; entries whose seq changed are stale
	delayed delayHeap
	running int
	dead    []deadRef
	counts  [5]int64 // by where
	cw      [4]int   // smooth weighted round robin state
}

type deadRef struct {
	id  string
	seq uint64
}

type finRef struct {
	id  string
	seq uint64
	at  time.Time
}

type uniqueHold struct {
	id    string
	until time.Time
}

// Queue is an in-process [port.Queue].
type Queue struct {
	cfg      Config
	mu       sync.Mutex
	jobs     map[string]*job
	queues   map[string]*queueState
	unique   map[string]uniqueHold
	live     int
	finished []finRef // FIFO by finish time
	seq      uint64
	wake     chan struct{}
	watched  bool // a Fetch waits on wake: the next change closes it
	closed   bool
}

var (
	_ port.Queue       = (*Queue)(nil)
	_ port.Progressor  = (*Queue)(nil)
	_ port.DeadLetters = (*Queue)(nil)
	_ port.Inspector   = (*Queue)(nil)
	_ port.Closer      = (*Queue)(nil)
)

// New returns an empty queue bounded as cfg says.
func New(cfg Config) (*Queue, error) {
	var errs []error
	for name, v := range map[string]int64{"MaxJobs": int64(cfg.MaxJobs), "MaxFinished": int64(cfg.MaxFinished), "MaxDead": int64(cfg.MaxDead),
		"StatusTTL": int64(cfg.StatusTTL), "DeadRetention": int64(cfg.DeadRetention), "ReleaseDelay": int64(cfg.ReleaseDelay)} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("memory: %s must not be negative", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.MaxJobs = cmp.Or(cfg.MaxJobs, DefaultMaxJobs)
	cfg.MaxFinished = cmp.Or(cfg.MaxFinished, DefaultMaxFinished)
	cfg.MaxDead = cmp.Or(cfg.MaxDead, DefaultMaxDead)
	cfg.StatusTTL = cmp.Or(cfg.StatusTTL, port.DefaultStatusTTL)
	cfg.DeadRetention = cmp.Or(cfg.DeadRetention, port.DefaultDeadRetention)
	cfg.ReleaseDelay = cmp.Or(cfg.ReleaseDelay, port.DefaultReleaseDelay)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Queue{cfg: cfg, jobs: map[string]*job{}, queues: map[string]*queueState{}, unique: map[string]uniqueHold{},
		wake: make(chan struct{})}, nil
}

func (q *Queue) queue(name string) *queueState {
	s := q.queues[name]
	if s == nil {
		s = &queueState{}
		q.queues[name] = s
	}
	return s
}

// move changes where j is, keeping the counts; the old list or heap
// entry becomes stale through the new seq.
func (q *Queue) move(j *job, to where) {
	s := q.queue(j.msg.Queue)
	s.counts[j.where]--
	s.counts[to]++
	j.where = to
	q.seq++
	j.seq = q.seq
	now := q.cfg.Now()
	switch to {
	case inReady:
		p := prio(j.msg.Priority)
		s.ready[p] = append(s.ready[p], delayed{j: j, seq: j.seq})
		q.broadcast()
	case inDelayed:
		s.delayed.push(delayed{at: j.st.RunAt, j: j, seq: j.seq})
		q.broadcast() // a waiting Fetch recomputes its timer
	case inDead:
		s.dead = append(s.dead, deadRef{id: j.msg.ID, seq: j.seq})
		j.gone = now.Add(q.cfg.DeadRetention)
		if over := len(s.dead) - q.cfg.MaxDead; over > 0 {
			q.dropDead(s, over)
		}
	}
}

// broadcast wakes the waiting Fetch calls; without any it costs nothing.
func (q *Queue) broadcast() {
	if !q.watched {
		return
	}
	close(q.wake)
	q.wake = make(chan struct{})
	q.watched = false
}

func prio(p port.Priority) port.Priority {
	if p < port.Low || p > port.High {
		return port.Normal
	}
	return p
}

func (q *Queue) checkClosed(ctx context.Context) error {
	if q.closed {
		return port.ErrClosed
	}
	return ctx.Err()
}

// Enqueue implements port.Queue.
func (q *Queue) Enqueue(ctx context.Context, msgs []port.Message) ([]port.Enqueued, error) {
	for _, m := range msgs {
		if m.ID == "" || m.Kind == "" || m.Queue == "" {
			return nil, errors.New("memory: a message needs an ID, a Kind and a Queue")
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.checkClosed(ctx); err != nil {
		return nil, err
	}
	now := q.cfg.Now()
	q.expire(now)
	out := make([]port.Enqueued, len(msgs))
	for i, m := range msgs {
		out[i] = q.enqueue(m, now)
	}
	return out, nil
}

func (q *Queue) enqueue(m port.Message, now time.Time) port.Enqueued {
	if _, ok := q.jobs[m.ID]; ok {
		return port.Enqueued{ID: m.ID, Duplicate: true}
	}
	var uk string
	if m.UniqueKey != "" {
		uk = m.Queue + "\x00" + m.UniqueKey
		if h, ok := q.unique[uk]; ok && now.Before(h.until) {
			if j, ok := q.jobs[h.id]; ok && !j.st.State.Terminal() {
				return port.Enqueued{ID: h.id, Duplicate: true}
			}
		}
	}
	if q.live >= q.cfg.MaxJobs {
		return port.Enqueued{ID: m.ID, Err: fmt.Errorf("%w: %d unfinished jobs in process memory (queue.memory.max_jobs)", port.ErrFull, q.live)}
	}
	if m.UniqueKey != "" {
		q.unique[uk] = uniqueHold{id: m.ID, until: now.Add(m.UniqueFor)}
	}
	m.Meta = clone(m.Meta)
	m.Payload = slices.Clone(m.Payload)
	if m.EnqueuedAt.IsZero() {
		m.EnqueuedAt = now
	}
	j := &job{msg: m, st: port.Status{
		ID: m.ID, Kind: m.Kind, Queue: m.Queue, Priority: prio(m.Priority), MaxAttempts: m.MaxAttempts,
		Subject: m.Meta["subject"], Tenant: m.Meta["tenant"], EnqueuedAt: m.EnqueuedAt, UpdatedAt: now, RunAt: m.RunAt,
	}}
	q.jobs[m.ID] = j
	q.live++
	q.queue(m.Queue).counts[nowhere]++
	if m.RunAt.After(now) {
		j.st.State = port.Scheduled
		q.move(j, inDelayed)
	} else {
		j.st.State = port.Pending
		q.move(j, inReady)
	}
	return port.Enqueued{ID: m.ID}
}

func clone(m map[string]string) map[string]string {
	if len(m) == 0 { // an empty map reads as a nil one
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// promote moves due delayed jobs of s to ready.
func (q *Queue) promote(s *queueState, now time.Time) {
	for len(s.delayed) > 0 {
		d := s.delayed[0]
		if d.seq != d.j.seq || d.j.where != inDelayed {
			s.delayed.pop()
			continue
		}
		if d.at.After(now) {
			return
		}
		s.delayed.pop()
		q.move(d.j, inReady)
	}
}

// nextDue is when the earliest delayed job of s is due, zero if none.
func (s *queueState) nextDue() time.Time {
	for len(s.delayed) > 0 {
		d := s.delayed[0]
		if d.seq != d.j.seq || d.j.where != inDelayed {
			s.delayed.pop()
			continue
		}
		return d.at
	}
	return time.Time{}
}

// take pops the next ready job by smooth weighted round robin over the
// priorities that have one.
func (s *queueState) take() *job {
	total, best := 0, port.Priority(0)
	for p := port.Low; p <= port.High; p++ {
		for len(s.ready[p]) > 0 && (s.ready[p][0].seq != s.ready[p][0].j.seq || s.ready[p][0].j.where != inReady) {
			s.ready[p][0] = delayed{}
			s.ready[p] = s.ready[p][1:]
		}
		if len(s.ready[p]) == 0 {
			continue
		}
		s.cw[p] += port.Weights[p]
		total += port.Weights[p]
		if best == 0 || s.cw[p] > s.cw[best] {
			best = p
		}
	}
	if best == 0 {
		return nil
	}
	s.cw[best] -= total
	j := s.ready[best][0].j
	s.ready[best][0] = delayed{}
	s.ready[best] = s.ready[best][1:]
	return j
}

// Fetch implements port.Queue.
func (q *Queue) Fetch(ctx context.Context, p port.FetchParams) ([]port.Delivery, error) {
	if p.Max < 1 {
		return nil, errors.New("memory: FetchParams.Max must be at least 1")
	}
	deadline := q.cfg.Now().Add(p.Wait)
	for {
		q.mu.Lock()
		if err := q.checkClosed(ctx); err != nil {
			q.mu.Unlock()
			return nil, err
		}
		now := q.cfg.Now()
		s := q.queue(p.Queue)
		q.promote(s, now)
		out := q.deliver(s, p, now)
		if len(out) > 0 || !now.Before(deadline) {
			q.mu.Unlock()
			return out, nil
		}
		wake, next := q.wake, s.nextDue()
		q.watched = true
		q.mu.Unlock()
		wait := deadline.Sub(now)
		if !next.IsZero() && next.Sub(now) < wait {
			wait = max(next.Sub(now), time.Millisecond)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (q *Queue) deliver(s *queueState, p port.FetchParams, now time.Time) []port.Delivery {
	out := make([]port.Delivery, 0, min(int64(p.Max), s.counts[inReady]))
	for len(out) < p.Max {
		j := s.take()
		if j == nil {
			break
		}
		if len(p.Kinds) > 0 && !slices.Contains(p.Kinds, j.msg.Kind) {
			j.st.RunAt = now.Add(q.cfg.ReleaseDelay)
			q.move(j, inDelayed)
			continue
		}
		j.st.Attempts++
		j.st.UpdatedAt = now
		if j.msg.MaxAttempts > 0 && j.st.Attempts > j.msg.MaxAttempts {
			j.st.Attempts--
			j.st.LastError = cmp.Or(j.st.LastError, "attempts exhausted")
			q.finish(j, port.Dead, now)
			continue
		}
		j.st.State = port.Running
		j.st.StartedAt = now
		q.move(j, inRunning)
		m := j.msg
		m.Payload = slices.Clone(m.Payload)
		m.Meta = clone(m.Meta)
		out = append(out, port.Delivery{Message: m, Attempt: j.st.Attempts, Token: strconv.FormatUint(j.seq, 10)})
	}
	return out
}

// sameToken reports whether token names the delivery of seq.
func sameToken(seq uint64, token string) bool {
	n, err := strconv.ParseUint(token, 10, 64)
	return err == nil && n == seq
}

// finish moves j to a terminal state.
func (q *Queue) finish(j *job, st port.State, now time.Time) {
	j.st.State = st
	j.st.FinishedAt = now
	j.st.UpdatedAt = now
	if j.where != inDead {
		q.live--
	}
	if j.msg.UniqueKey != "" {
		uk := j.msg.Queue + "\x00" + j.msg.UniqueKey
		if h, ok := q.unique[uk]; ok && h.id == j.msg.ID {
			delete(q.unique, uk)
		}
	}
	if st == port.Failed || st == port.Dead {
		q.move(j, inDead)
		return
	}
	q.move(j, nowhere)
	j.gone = now.Add(q.cfg.StatusTTL)
	q.finished = append(q.finished, finRef{id: j.msg.ID, seq: j.seq, at: j.gone})
	if over := len(q.finished) - q.cfg.MaxFinished; over > 0 {
		for _, f := range q.finished[:over] {
			q.forget(f.id, f.seq)
		}
		q.finished = dropFront(q.finished, over)
	}
}

// forget deletes the record of id if it is still the one with seq.
func (q *Queue) forget(id string, seq uint64) {
	if j, ok := q.jobs[id]; ok && j.seq == seq {
		q.queue(j.msg.Queue).counts[j.where]--
		delete(q.jobs, id)
	}
}

// expire forgets finished records and dead letters past their time.
func (q *Queue) expire(now time.Time) {
	n := 0
	for n < len(q.finished) && !q.finished[n].at.After(now) {
		q.forget(q.finished[n].id, q.finished[n].seq)
		n++
	}
	if n > 0 {
		q.finished = dropFront(q.finished, n)
	}
	for _, s := range q.queues {
		n := 0
		for n < len(s.dead) {
			j, ok := q.jobs[s.dead[n].id]
			if ok && j.seq == s.dead[n].seq && j.gone.After(now) {
				break
			}
			if ok && j.seq == s.dead[n].seq {
				q.forget(j.msg.ID, j.seq)
			}
			n++
		}
		if n > 0 {
			s.dead = dropFront(s.dead, n)
		}
	}
}

func (q *Queue) dropDead(s *queueState, n int) {
	for _, d := range s.dead[:n] {
		q.forget(d.id, d.seq)
	}
	s.dead = dropFront(s.dead, n)
}

// Settle implements port.Queue.
func (q *Queue) Settle(ctx context.Context, ss []port.Settlement) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.checkClosed(ctx); err != nil {
		return err
	}
	now := q.cfg.Now()
	for _, s := range ss {
		j, ok := q.jobs[s.Delivery.Message.ID]
		if !ok || j.where != inRunning || !sameToken(j.seq, s.Delivery.Token) {
			if ok && j.st.State == port.Canceled && s.Outcome != port.Abandon {
				j.st.LastError = cmp.Or(s.Error, j.st.LastError)
			}
			continue // canceled, purged or reclaimed meanwhile
		}
		switch s.Outcome {
		case port.Succeed:
			j.st.Result = slices.Clone(s.Result)
			q.finish(j, port.Succeeded, now)
		case port.Retry:
			j.st.State, j.st.LastError, j.st.RunAt, j.st.UpdatedAt = port.Retrying, s.Error, s.RunAt, now
			q.move(j, inDelayed)
		case port.Fail:
			j.st.LastError = s.Error
			q.finish(j, port.Failed, now)
		case port.Bury:
			j.st.LastError = s.Error
			q.finish(j, port.Dead, now)
		case port.Abandon:
			j.st.Attempts--
			j.st.State, j.st.UpdatedAt = port.Pending, now
			if j.st.Attempts > 0 {
				j.st.State = port.Retrying
			}
			q.move(j, inReady)
		default:
			return fmt.Errorf("memory: unknown outcome %d", s.Outcome)
		}
	}
	return nil
}

// Status implements port.Queue.
func (q *Queue) Status(ctx context.Context, id string) (port.Status, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.checkClosed(ctx); err != nil {
		return port.Status{}, err
	}
	q.expire(q.cfg.Now())
	j, ok := q.jobs[id]
	if !ok {
		return port.Status{}, port.ErrNotFound
	}
	return q.view(j), nil
}

func (q *Queue) view(j *job) port.Status {
	st := j.st
	st.Result = slices.Clone(st.Result)
	if st.State == port.Scheduled && !st.RunAt.After(q.cfg.Now()) {
		st.State = port.Pending
	}
	return st
}

// Cancel implements port.Queue.
func (q *Queue) Cancel(ctx context.Context, id string) (port.Status, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.checkClosed(ctx); err != nil {
		return port.Status{}, err
	}
	now := q.cfg.Now()
	q.expire(now)
	j, ok := q.jobs[id]
	if !ok {
		return port.Status{}, port.ErrNotFound
	}
	if j.st.State.Terminal() {
		return q.view(j), port.ErrFinished
	}
	q.finish(j, port.Canceled, now)
	return q.view(j), nil
}

// Progress implements port.Progressor.
func (q *Queue) Progress(ctx context.Context, id string, percent int, message string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.checkClosed(ctx); err != nil {
		return err
	}
	j, ok := q.jobs[id]
	if !ok {
		return port.ErrNotFound
	}
	j.st.Progress, j.st.Message, j.st.UpdatedAt = percent, message, q.cfg.Now()
	return nil
}

// Dead implements port.DeadLetters.
func (q *Queue) Dead(ctx context.Context, queue string, offset, limit int) ([]port.Status, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.checkClosed(ctx); err != nil {
		return nil, err
	}
	q.expire(q.cfg.Now())
	s := q.queue(queue)
	var out []port.Status
	for i := len(s.dead) - 1; i >= 0 && len(out) < limit; i-- {
		j, ok := q.jobs[s.dead[i].id]
		if !ok || j.seq != s.dead[i].seq {
			continue
		}
		if offset > 0 {
			offset--
			continue
		}
		out = append(out, q.view(j))
	}
	return out, nil
}

// deadJobs returns the live dead letters of queue among ids (all if none).
func (q *Queue) deadJobs(queue string, ids []string) []*job {
	s := q.queue(queue)
	var out []*job
	for _, d := range s.dead {
		j, ok := q.jobs[d.id]
		if ok && j.seq == d.seq && (len(ids) == 0 || slices.Contains(ids, d.id)) {
			out = append(out, j)
		}
	}
	return out
}

// Replay implements port.DeadLetters.
func (q *Queue) Replay(ctx context.Context, queue string, ids ...string) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.checkClosed(ctx); err != nil {
		return 0, err
	}
	now := q.cfg.Now()
	js := q.deadJobs(queue, ids)
	for _, j := range js {
		j.st.State, j.st.Attempts, j.st.FinishedAt, j.st.UpdatedAt, j.st.RunAt = port.Pending, 0, time.Time{}, now, time.Time{}
		q.live++
		q.move(j, inReady)
	}
	q.compactDead(queue)
	return len(js), nil
}

// Purge implements port.DeadLetters.
func (q *Queue) Purge(ctx context.Context, queue string, ids ...string) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.checkClosed(ctx); err != nil {
		return 0, err
	}
	js := q.deadJobs(queue, ids)
	for _, j := range js {
		q.forget(j.msg.ID, j.seq)
	}
	q.compactDead(queue)
	return len(js), nil
}

func (q *Queue) compactDead(queue string) {
	s := q.queue(queue)
	s.dead = slices.DeleteFunc(s.dead, func(d deadRef) bool {
		j, ok := q.jobs[d.id]
		return !ok || j.seq != d.seq
	})
}

// Stats implements port.Inspector.
func (q *Queue) Stats(ctx context.Context, queue string) (port.Stats, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.checkClosed(ctx); err != nil {
		return port.Stats{}, err
	}
	q.expire(q.cfg.Now())
	s := q.queue(queue)
	return port.Stats{Ready: s.counts[inReady], Scheduled: s.counts[inDelayed], Running: s.counts[inRunning], Dead: s.counts[inDead]}, nil
}

// Close implements port.Closer: every later call returns port.ErrClosed
// and the jobs are dropped.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		q.broadcast()
	}
	return nil
}

type delayed struct {
	at  time.Time
	j   *job
	seq uint64
}

// delayHeap is a min-heap of delayed jobs by time.
type delayHeap []delayed

func (h *delayHeap) push(d delayed) {
	*h = append(*h, d)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].at.Before(s[p].at) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *delayHeap) pop() {
	s := *h
	n := len(s) - 1
	s[0] = s[n]
	s[n] = delayed{}
	s = s[:n]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < n && s[l].at.Before(s[small].at) {
			small = l
		}
		if r := l + 1; r < n && s[r].at.Before(s[small].at) {
			small = r
		}
		if small == i {
			break
		}
		s[i], s[small] = s[small], s[i]
		i = small
	}
	*h = s
}

// dropFront removes the first n elements in O(n), not O(len): the array
// is reallocated (with only the live elements) by a later append.
func dropFront[T any](s []T, n int) []T {
	clear(s[:n])
	return s[n:]
}
