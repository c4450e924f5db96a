package realtime

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apexgo/apex/app"
	"github.com/apexgo/apex/realtime/hub"
	"github.com/apexgo/apex/realtime/redis"
)

// Defaults of the "realtime" section that are not the hub's or the
// Redis backend's (hub.Default*, redis.Default*).
const (
	DefaultWebSocketPath  = "/connection/websocket"
	DefaultSSEPath        = "/connection/sse"
	DefaultHTTPStreamPath = "/connection/http_stream"
	DefaultEmulationPath  = "/emulation"
	DefaultJobEventBuffer = 1024
)

// DefaultJobEventStatuses are the job statuses pushed by default.
var DefaultJobEventStatuses = []string{"succeeded", "failed", "dead", "progress"}

// Config is the "realtime" section (environment: APP_REALTIME__...).
type Config struct {
	// Driver is auto (Redis when redis.addr/addrs is set, else memory),
	// redis or memory. Default auto.
	Driver string `koanf:"driver" validate:"oneof=auto redis memory"`
	// Prefix starts every Redis key and PUB/SUB channel of the hub.
	// Default: the service name and ":realtime".
	Prefix string `koanf:"prefix"`
	// Paths of the transports on the HTTP server; "" turns one off.
	// Defaults /connection/websocket, /connection/sse,
	// /connection/http_stream and /emulation (the endpoint where SSE and
	// HTTP-streaming clients post their commands).
	Paths PathsConfig `koanf:"paths"`
	// AllowAnonymous lets clients without a token connect (subject "").
	// Default false. Without the auth module it must be true.
	AllowAnonymous bool `koanf:"allow_anonymous"`
	// UserNamespace holds each subject's user channel
	// "<user_namespace>:<subject>", subscribed at connect. Default "user".
	UserNamespace string `koanf:"user_namespace" validate:"required,excludes=:"`
	// Namespaces configure the channels "<name>:..." ("" for channels
	// without ':'). A namespace not listed is private: no history, no
	// presence, no subscriptions but by a custom Authorizer. Default: the
	// user namespace with presence and no history.
	Namespaces map[string]NamespaceConfig `koanf:"namespaces" validate:"dive"`
	// AllowedOrigins may open connections from a browser: "*" or
	// scheme://host[:port] entries. Default none: only pages served from
	// the same host as the hub (and non-browser clients, which send no
	// Origin).
	AllowedOrigins []string `koanf:"allowed_origins"`
	// RecheckInterval re-verifies every connection's token, so that a
	// revoked token or a logged-out subject is disconnected within it.
	// Default 30s.
	RecheckInterval time.Duration `koanf:"recheck_interval" validate:"gt=0"`
	// PositionCheckInterval bounds how long a client can miss a
	// publication in a channel with history without knowing: publications
	// lost between Redis and an instance (Redis restarted or failed over)
	// make the client recover from history, or tell it that it cannot,
	// within this interval of Redis answering again. Each connection checks
	// its history channels this often (one Redis read per channel); below
	// 25s its presence refresh runs this often too. Default 10s.
	PositionCheckInterval time.Duration `koanf:"position_check_interval" validate:"gt=0"`
	// PresenceTTL keeps a Redis presence entry alive without refresh.
	// Default 1m.
	PresenceTTL time.Duration `koanf:"presence_ttl" validate:"gt=0"`
	// Limits bound clients.
	Limits LimitsConfig `koanf:"limits"`
	// JobEvents pushes background-job status changes to the user channel
	// of the subject that enqueued the job.
	JobEvents JobEventsConfig `koanf:"job_events"`
}

// PathsConfig is realtime.paths.
type PathsConfig struct {
	WebSocket  string `koanf:"websocket" validate:"omitempty,startswith=/"`
	SSE        string `koanf:"sse" validate:"omitempty,startswith=/"`
	HTTPStream string `koanf:"http_stream" validate:"omitempty,startswith=/"`
	Emulation  string `koanf:"emulation" validate:"omitempty,startswith=/"`
}

// NamespaceConfig is realtime.namespaces.<name>.
type NamespaceConfig struct {
	// Public lets everyone who may connect subscribe. Default false.
	Public bool `koanf:"public"`
	// Publish lets clients publish (authorized by the Authorizer and
	// rate-limited by limits.publish_rate). Default false.
	Publish bool `koanf:"publish"`
	// Presence tracks subscribers; JoinLeave pushes joins and leaves to
	// them. Default false.
	Presence  bool `koanf:"presence"`
	JoinLeave bool `koanf:"join_leave"`
	// HistorySize publications are kept for HistoryTTL after the last one;
	// a client reconnecting within it recovers what it missed. Both zero
	// (the default) keep none.
	HistorySize int           `koanf:"history_size" validate:"gte=0"`
	HistoryTTL  time.Duration `koanf:"history_ttl" validate:"gte=0"`
}

// LimitsConfig is realtime.limits. Every refusal is logged once at INFO
// with its reason and counted in realtime_refusals_total{reason}.
type LimitsConfig struct {
	// MessageSize bounds one incoming frame or request body, bytes.
	// Default 65536.
	MessageSize int `koanf:"message_size" validate:"gte=512"`
	// ClientQueue bounds the bytes waiting to be written to one client;
	// a client that falls further behind is disconnected (slow). Default
	// 1048576.
	ClientQueue int `koanf:"client_queue" validate:"gte=1024"`
	// WriteTimeout bounds one write to a client. Default 1s.
	WriteTimeout time.Duration `koanf:"write_timeout" validate:"gt=0"`
	// PingInterval between server pings; PongTimeout for the answer.
	// Defaults 25s and 10s; PongTimeout must be below PingInterval.
	PingInterval time.Duration `koanf:"ping_interval" validate:"gt=0"`
	PongTimeout  time.Duration `koanf:"pong_timeout" validate:"gt=0,ltfield=PingInterval"`
	// ConnsPerSubject and ConnsPerIP bound open connections on one
	// instance. Defaults 32 and 256.
	ConnsPerSubject int `koanf:"conns_per_subject" validate:"gte=1"`
	ConnsPerIP      int `koanf:"conns_per_ip" validate:"gte=1"`
	// ChannelsPerClient bounds one connection's subscriptions. Default 128.
	ChannelsPerClient int `koanf:"channels_per_client" validate:"gte=1"`
	// ChannelLength bounds a channel name, bytes. Default 255.
	ChannelLength int `koanf:"channel_length" validate:"gte=16"`
	// SubscribeRate per second, bursts of SubscribeBurst, per connection;
	// beyond it the connection is closed (4502). Defaults 20 and 40.
	SubscribeRate  float64 `koanf:"subscribe_rate" validate:"gt=0"`
	SubscribeBurst int     `koanf:"subscribe_burst" validate:"gte=1"`
	// PublishRate per second, bursts of PublishBurst, of client
	// publications per subject (through the cache module's limiter when
	// present, so across instances). Defaults 10 and 20.
	PublishRate  int `koanf:"publish_rate" validate:"gte=1"`
	PublishBurst int `koanf:"publish_burst" validate:"gte=1"`
	// ConnectTimeout closes a connection that has not authenticated
	// within it. Default 15s.
	ConnectTimeout time.Duration `koanf:"connect_timeout" validate:"gt=0"`
}

// JobEventsConfig is realtime.job_events.
type JobEventsConfig struct {
	// Enabled pushes job events. Default false.
	Enabled bool `koanf:"enabled"`
	// Statuses pushed. Default succeeded, failed, dead, progress.
	Statuses []string `koanf:"statuses" validate:"dive,oneof=running retrying succeeded failed dead canceled progress"`
	// Buffer bounds events waiting to be published; when full, events
	// are dropped and counted. Default 1024.
	Buffer int `koanf:"buffer" validate:"gte=1"`
}

// DefaultConfig returns the built-in defaults.
func DefaultConfig() Config {
	return Config{
		Driver: "auto",
		Paths: PathsConfig{
			WebSocket: DefaultWebSocketPath, SSE: DefaultSSEPath,
			HTTPStream: DefaultHTTPStreamPath, Emulation: DefaultEmulationPath,
		},
		UserNamespace:         hub.DefaultUserNamespace,
		Namespaces:            map[string]NamespaceConfig{hub.DefaultUserNamespace: {Presence: true}},
		RecheckInterval:       hub.DefaultRecheckInterval,
		PositionCheckInterval: hub.DefaultPositionCheckInterval,
		PresenceTTL:           redis.DefaultPresenceTTL,
		Limits: LimitsConfig{
			MessageSize: hub.DefaultMessageSizeLimit, ClientQueue: hub.DefaultClientQueueBytes,
			WriteTimeout: hub.DefaultWriteTimeout, PingInterval: hub.DefaultPingInterval, PongTimeout: hub.DefaultPongTimeout,
			ConnsPerSubject: hub.DefaultMaxConnsPerSubject, ConnsPerIP: hub.DefaultMaxConnsPerIP,
			ChannelsPerClient: hub.DefaultMaxChannelsPerClient, ChannelLength: hub.DefaultMaxChannelLength,
			SubscribeRate: hub.DefaultSubscribeRate, SubscribeBurst: hub.DefaultSubscribeBurst,
			PublishRate: hub.DefaultPublishRate, PublishBurst: hub.DefaultPublishBurst,
			ConnectTimeout: hub.DefaultStaleCloseDelay,
		},
		JobEvents: JobEventsConfig{Statuses: DefaultJobEventStatuses, Buffer: DefaultJobEventBuffer},
	}
}

// Validate implements app.Validator.
func (c Config) Validate() []app.Problem {
	var ps []app.Problem
	for _, name := range slices.Sorted(maps.Keys(c.Namespaces)) {
		n := c.Namespaces[name]
		if strings.Contains(name, ":") {
			ps = append(ps, app.Problem{Key: "namespaces." + name, Message: "a namespace name cannot contain ':'"})
		}
		if (n.HistorySize > 0) != (n.HistoryTTL > 0) {
			ps = append(ps, app.Problem{Key: "namespaces." + name, Message: "history_size and history_ttl are set together (both zero: no history)"})
		}
		if n.JoinLeave && !n.Presence {
			ps = append(ps, app.Problem{Key: "namespaces." + name + ".join_leave", Message: "needs presence: true"})
		}
	}
	for _, o := range c.AllowedOrigins {
		if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			ps = append(ps, app.Problem{Key: "allowed_origins", Message: "entry " + o + " is neither * nor scheme://host[:port]"})
		}
	}
	return ps
}

func (c Config) namespaces() map[string]hub.Namespace {
	out := make(map[string]hub.Namespace, len(c.Namespaces))
	for name, n := range c.Namespaces {
		out[name] = hub.Namespace{
			Public: n.Public, Publish: n.Publish, Presence: n.Presence, JoinLeave: n.JoinLeave,
			HistorySize: n.HistorySize, HistoryTTL: n.HistoryTTL,
		}
	}
	return out
}

func (c Config) limits() hub.Limits {
	l := c.Limits
	origins := make([]string, len(c.AllowedOrigins))
	for i, o := range c.AllowedOrigins {
		origins[i] = strings.TrimRight(o, "/")
	}
	return hub.Limits{
		MaxChannelLength: l.ChannelLength, MaxChannelsPerClient: l.ChannelsPerClient,
		MessageSizeLimit: l.MessageSize, ClientQueueBytes: l.ClientQueue, WriteTimeout: l.WriteTimeout,
		PingInterval: l.PingInterval, PongTimeout: l.PongTimeout,
		MaxConnsPerSubject: l.ConnsPerSubject, MaxConnsPerIP: l.ConnsPerIP,
		SubscribeRate: l.SubscribeRate, SubscribeBurst: l.SubscribeBurst,
		PublishRate: l.PublishRate, PublishBurst: l.PublishBurst,
		StaleCloseDelay: l.ConnectTimeout, AllowedOrigins: origins,
	}
}
