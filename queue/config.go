package queue

import (
	"maps"
	"slices"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/queue/memory"
	"github.com/apexgo/apex/queue/outbox"
	"github.com/apexgo/apex/queue/port"
	"github.com/apexgo/apex/queue/redisstream"
)

// Defaults of [Config] that the backends do not own.
const (
	// DefaultMaxAttempts bounds a job's attempts.
	DefaultMaxAttempts = 10
	// DefaultTimeout bounds one attempt.
	DefaultTimeout = 5 * time.Minute
	// DefaultConcurrency is a queue's worker count in one process.
	DefaultConcurrency = 10
	// DefaultBackoffBase and DefaultBackoffMax shape the retry backoff.
	DefaultBackoffBase = time.Second
	DefaultBackoffMax  = time.Hour
	// DefaultResultMaxBytes bounds a job's result.
	DefaultResultMaxBytes = 64 << 10
	// DefaultPoll is how long a worker's fetch waits for a job.
	DefaultPoll = 2 * time.Second
	// DefaultJobsPath is the path of the status route.
	DefaultJobsPath = "/jobs"
)

// Config is the "queue" section.
type Config struct {
	// Driver is auto (Redis when redis.addr/addrs is set, else memory),
	// redis or memory. Default auto.
	Driver string `koanf:"driver" validate:"oneof=auto redis memory"`
	// Prefix starts every Redis key. Default: the service name and ":q:".
	Prefix string `koanf:"prefix" validate:"excludesall={}"`
	// Queues are the queues this process works on, with their worker
	// count; a handler on a queue not listed here is a start error.
	// Default: {default: {concurrency: 10}}.
	Queues map[string]QueueConfig `koanf:"queues" validate:"dive"`
	// Worker runs the workers of the registered handlers in this process.
	// Default true; false makes the process an enqueuer only.
	Worker bool `koanf:"worker"`
	// MaxAttempts bounds a job's attempts unless its kind or the enqueue
	// says otherwise. Default 10.
	MaxAttempts int `koanf:"max_attempts" validate:"gte=1"`
	// Timeout bounds one attempt unless its kind or the enqueue says
	// otherwise. Default 5m.
	Timeout time.Duration `koanf:"timeout" validate:"gt=0"`
	// Backoff shapes the wait between attempts.
	Backoff BackoffConfig `koanf:"backoff"`
	// StatusTTL is how long records of succeeded and canceled jobs are
	// kept. Default 24h.
	StatusTTL time.Duration `koanf:"status_ttl" validate:"gt=0"`
	// DeadRetention is how long failed and dead jobs stay in the dead
	// letters. Default 168h (7 days).
	DeadRetention time.Duration `koanf:"dead_retention" validate:"gt=0"`
	// ResultMaxBytes bounds the JSON result a handler may set. Default 65536.
	ResultMaxBytes int `koanf:"result_max_bytes" validate:"gte=0"`
	// Poll is how long a worker's fetch waits for a job before asking
	// again. Default 2s.
	Poll time.Duration `koanf:"poll" validate:"gt=0"`
	// Redis tunes the Redis Streams backend.
	Redis RedisConfig `koanf:"redis"`
	// Memory bounds the in-process backend.
	Memory MemoryConfig `koanf:"memory"`
	// HTTP configures the status and admin routes.
	HTTP HTTPConfig `koanf:"http"`
	// Schedules are jobs enqueued on a timetable, by schedule name
	// (queue.schedules.<name>), next to those given with AsSchedule.
	// Default: none.
	Schedules map[string]ScheduleConfig `koanf:"schedules"`
	// Cron runs the schedules.
	Cron CronConfig `koanf:"cron"`
	// Outbox is the transactional enqueue (Client.EnqueueTx).
	Outbox OutboxConfig `koanf:"outbox"`
}

// OutboxConfig is queue.outbox.
type OutboxConfig struct {
	// Enabled turns the outbox on: EnqueueTx writes into the apex_outbox
	// table of the primary database (it needs the data module) and the
	// relay runs. Default false.
	Enabled bool `koanf:"enabled"`
	// Relay runs a relay in this process; every instance may run one.
	// Default true.
	Relay bool `koanf:"relay"`
	// Migrate creates or upgrades the apex_outbox table at start (its
	// versions in apex_outbox_version). Default true.
	Migrate bool `koanf:"migrate"`
	// Batch is the most rows a relay moves per transaction. Default 500.
	Batch int `koanf:"batch" validate:"gte=0"`
	// Poll is how often the relay looks for rows when nothing woke it:
	// the bound on the added latency on MySQL and SQLite, and on Postgres
	// when a notification was lost. Default 1s.
	Poll time.Duration `koanf:"poll" validate:"gte=0"`
	// Notify wakes the relays on Postgres with LISTEN/NOTIFY when a
	// transaction with outbox rows commits (one pooled connection per
	// relay held for LISTEN). Default true.
	Notify bool `koanf:"notify"`
}

// ScheduleConfig is queue.schedules.<name>; see [Schedule].
type ScheduleConfig struct {
	// Spec is the timetable: a cron expression (5 fields, or 6 with
	// seconds first), a tag such as "@daily", or "@every 30s". Required.
	Spec string `koanf:"spec"`
	// Kind is the job's kind. Required.
	Kind string `koanf:"kind"`
	// Payload is the job's payload as JSON text. Default "" (null).
	Payload string `koanf:"payload"`
	// TZ is the IANA time zone of Spec ("Europe/Paris"). Default UTC.
	TZ string `koanf:"tz"`
	// Queue is the job's queue. Default: its kind's, else "default".
	Queue string `koanf:"queue"`
	// Missed is skip, last or all (see [Missed]). Default skip.
	Missed string `koanf:"missed"`
	// MissedMax bounds the ticks "all" fires at once. Default 10.
	MissedMax int `koanf:"missed_max"`
	// Overlap is allow or skip (see [Overlap]). Default allow.
	Overlap string `koanf:"overlap"`
}

// CronConfig is queue.cron.
type CronConfig struct {
	// Enabled runs the schedules in this process. Every instance may run
	// them: each tick is enqueued once whatever their number. Default true.
	Enabled bool `koanf:"enabled"`
	// Grace is how old a tick may be and still fire under the skip
	// policy (an instance that starts just after a tick fires it).
	// Default 1m.
	Grace time.Duration `koanf:"grace" validate:"gte=0"`
}

// QueueConfig is queue.queues.<name>.
type QueueConfig struct {
	// Concurrency is how many jobs of the queue run at once in this
	// process. Default 10.
	Concurrency int `koanf:"concurrency" validate:"gte=0"`
}

// BackoffConfig is queue.backoff: attempt n waits a random time between
// half and all of min(Base·2^(n-1), Max).
type BackoffConfig struct {
	// Base is the first retry's wait. Default 1s.
	Base time.Duration `koanf:"base" validate:"gt=0"`
	// Max caps the wait. Default 1h.
	Max time.Duration `koanf:"max" validate:"gt=0"`
}

// RedisConfig is queue.redis.
type RedisConfig struct {
	// Group is the consumer group of every stream. Default "workers".
	Group string `koanf:"group"`
	// Heartbeat is how often a worker marks its jobs alive; a job idle for
	// three heartbeats is taken over by another worker. Default 5s.
	Heartbeat time.Duration `koanf:"heartbeat" validate:"gte=0"`
	// ReclaimAfter is the idle time after which a job is taken over.
	// Default 3 × heartbeat.
	ReclaimAfter time.Duration `koanf:"reclaim_after" validate:"gte=0"`
}

// MemoryConfig is queue.memory.
type MemoryConfig struct {
	// MaxJobs bounds unfinished jobs; enqueue beyond it fails with
	// ErrFull. Default 100000.
	MaxJobs int `koanf:"max_jobs" validate:"gte=0"`
	// MaxDead bounds each queue's dead letters. Default 10000.
	MaxDead int `koanf:"max_dead" validate:"gte=0"`
}

// HTTPConfig is queue.http.
type HTTPConfig struct {
	// Path serves GET <path>/:id, a job's status, to the subject that
	// enqueued it; "" disables it. Default "/jobs".
	Path string `koanf:"path"`
	// AdminRole, when set, serves the dead-letter admin routes under
	// <path>/admin to callers with this role; it needs a
	// queue.RoleMiddleware in the container. Default "" (off).
	AdminRole string `koanf:"admin_role"`
}

// DefaultConfig returns the built-in defaults.
func DefaultConfig() Config {
	return Config{
		Driver:         "auto",
		Queues:         map[string]QueueConfig{DefaultQueue: {Concurrency: DefaultConcurrency}},
		Worker:         true,
		MaxAttempts:    DefaultMaxAttempts,
		Timeout:        DefaultTimeout,
		Backoff:        BackoffConfig{Base: DefaultBackoffBase, Max: DefaultBackoffMax},
		StatusTTL:      port.DefaultStatusTTL,
		DeadRetention:  port.DefaultDeadRetention,
		ResultMaxBytes: DefaultResultMaxBytes,
		Poll:           DefaultPoll,
		Redis:          RedisConfig{Group: redisstream.DefaultGroup, Heartbeat: redisstream.DefaultHeartbeat},
		Memory:         MemoryConfig{MaxJobs: memory.DefaultMaxJobs, MaxDead: memory.DefaultMaxDead},
		HTTP:           HTTPConfig{Path: DefaultJobsPath},
		Cron:           CronConfig{Enabled: true, Grace: DefaultCronGrace},
		Outbox:         OutboxConfig{Relay: true, Migrate: true, Batch: outbox.DefaultBatch, Poll: outbox.DefaultPoll, Notify: true},
	}
}

// Validate implements app.Validator.
func (c Config) Validate() []app.Problem {
	var ps []app.Problem
	for _, name := range slices.Sorted(maps.Keys(c.Queues)) {
		if err := validQueue(name); err != nil {
			ps = append(ps, app.Problem{Key: "queues." + name, Message: err.Error()})
		}
	}
	if c.Backoff.Base > c.Backoff.Max && c.Backoff.Max > 0 {
		ps = append(ps, app.Problem{Key: "backoff.base", Message: "must not exceed backoff.max"})
	}
	if c.HTTP.Path != "" && (c.HTTP.Path[0] != '/' || c.HTTP.Path[len(c.HTTP.Path)-1] == '/') {
		ps = append(ps, app.Problem{Key: "http.path", Message: `must start with "/" and not end with one`})
	}
	return ps
}

func (c Config) concurrency(q string) int {
	if n := c.Queues[q].Concurrency; n > 0 {
		return n
	}
	return DefaultConcurrency
}
