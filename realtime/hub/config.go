package hub

import (
	"context"
	"errors"
	"time"

	"github.com/apexgo/apex/internal/redisconn"
	"github.com/centrifugal/centrifuge"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Defaults, written once and used by realtime.DefaultConfig too.
const (
	DefaultUserNamespace         = "user"
	DefaultMaxChannelLength      = 255
	DefaultMaxChannelsPerClient  = 128
	DefaultMessageSizeLimit      = 64 << 10
	DefaultClientQueueBytes      = 1 << 20
	DefaultWriteTimeout          = time.Second
	DefaultPingInterval          = 25 * time.Second
	DefaultPongTimeout           = 10 * time.Second
	DefaultMaxConnsPerSubject    = 32
	DefaultMaxConnsPerIP         = 256
	DefaultSubscribeRate         = 20
	DefaultSubscribeBurst        = 40
	DefaultPublishRate           = 10
	DefaultPublishBurst          = 20
	DefaultRecheckInterval       = 30 * time.Second
	DefaultStaleCloseDelay       = 15 * time.Second
	DefaultPresenceUpdatePeriod  = 25 * time.Second
	DefaultCommandTimeout        = redisconn.DefaultCommandTimeout
	DefaultSubscriptionQueueSize = 1024
	DefaultPositionCheckInterval = 10 * time.Second
)

// Namespace is how the channels "<namespace>:..." behave.
type Namespace struct {
	// Public lets every connection that may connect subscribe.
	Public bool
	// Publish lets clients publish into the namespace's channels (each
	// publication authorized by the hook and rate-limited).
	Publish bool
	// Presence tracks who is subscribed; JoinLeave also pushes joins and
	// leaves to subscribers.
	Presence  bool
	JoinLeave bool
	// HistorySize publications are kept for HistoryTTL after the last
	// one: clients that reconnect within it recover what they missed.
	// Zero keeps no history.
	HistorySize int
	HistoryTTL  time.Duration
}

func (n Namespace) history() bool { return n.HistorySize > 0 && n.HistoryTTL > 0 }

// Identity is the verified holder of a connection token.
type Identity struct {
	Subject string
	// ExpiresAt, when set, is when the client must present a fresh token
	// (the connection is refreshed, not closed, if it does).
	ExpiresAt time.Time
}

// ErrTokenExpired is returned by an Authenticator for a token that was
// valid but expired: the client is asked to refresh it.
var ErrTokenExpired = errors.New("realtime: token expired")

// ErrTokenInvalid is returned by an Authenticator for a token that is not
// valid (malformed, badly signed, revoked): the connection is refused or
// closed, and the client is told not to reconnect with it.
var ErrTokenInvalid = errors.New("realtime: invalid token")

// Authenticator verifies a connection token. Errors other than
// ErrTokenExpired and ErrTokenInvalid mean "unknown" (the verifier's store
// is down): the client is asked to retry later.
type Authenticator func(ctx context.Context, token string) (Identity, error)

// Action is what a client asks to do in a channel.
type Action string

// The actions the Authorizer decides.
const (
	Subscribe Action = "subscribe"
	Publish   Action = "publish"
)

// Access is one authorization question: may Subject do Action in Channel?
type Access struct {
	// Subject is "" for an anonymous connection.
	Subject string
	Channel string
	// Namespace is the channel's namespace, and Options its settings
	// (zero for a namespace the config does not declare).
	Namespace string
	Options   Namespace
	Action    Action
}

// Authorizer answers an Access: nil allows it, an error denies it (the
// client receives "permission denied"; the error is logged).
type Authorizer func(ctx context.Context, a Access) error

// ErrForbidden is the default Authorizer's denial.
var ErrForbidden = errors.New("realtime: permission denied")

// Config configures a Hub. Zero values take the Default constants.
type Config struct {
	// Name identifies the node in logs and metrics. Default: host name.
	Name string
	// Backend makes the broker and presence manager; required.
	Backend Backend
	// Namespaces by name; "" is the channels without a ':'.
	Namespaces map[string]Namespace
	// UserNamespace holds user channels "<UserNamespace>:<subject>"; its
	// options come from Namespaces[UserNamespace] (Public is ignored).
	UserNamespace string
	// Authenticate verifies connection tokens; nil allows only anonymous
	// connections, and only with AllowAnonymous.
	Authenticate   Authenticator
	AllowAnonymous bool
	// Authorize decides subscriptions and client publications; nil is
	// DefaultAuthorizer.
	Authorize Authorizer
	// AllowPublish, when set, rate-limits client publications per subject
	// across instances (the realtime module passes the cache module's
	// limiter with PublishRate and PublishBurst); it reports whether one
	// more publication by subject fits. Without it each connection has
	// its own bucket.
	AllowPublish func(ctx context.Context, subject string) (bool, error)
	// Limits bound clients.
	Limits Limits
	// RecheckInterval re-verifies every connection's token so that a
	// revoked one is closed within it. Negative disables.
	RecheckInterval time.Duration
	// PositionCheckInterval bounds how long a client can miss a
	// publication without knowing: each subscription to a channel with
	// history compares its position with the stream's at least this often,
	// so that publications lost while the broker's PUB/SUB connection was
	// down (Redis restarted or failed over) make the client recover from
	// history, or learn that it cannot, within this interval of Redis
	// answering again. Below 25s it also shortens the connections' presence
	// refresh (centrifuge runs both on one timer), when some namespace keeps
	// history. Default 10s.
	PositionCheckInterval time.Duration
	// CommandTimeout bounds each broker call made by the Hub methods
	// when ctx has no deadline.
	CommandTimeout time.Duration
	// Log receives centrifuge's logs (INFO and above) and refusals.
	Log *zap.Logger
	// Registry receives centrifuge's and the hub's metrics; nil keeps them
	// in a private registry.
	Registry *prometheus.Registry
	// MetricsNamespace prefixes centrifuge's metric names. Default
	// "realtime_centrifuge".
	MetricsNamespace string
}

// Limits bound what one client may do.
type Limits struct {
	MaxChannelLength     int
	MaxChannelsPerClient int
	MessageSizeLimit     int
	ClientQueueBytes     int
	WriteTimeout         time.Duration
	PingInterval         time.Duration
	PongTimeout          time.Duration
	MaxConnsPerSubject   int
	MaxConnsPerIP        int
	// SubscribeRate per second, bursts of SubscribeBurst, per connection:
	// beyond it the connection is closed (a subscribe flood).
	SubscribeRate  float64
	SubscribeBurst int
	// PublishRate per second, bursts of PublishBurst, per subject (per
	// connection for anonymous ones): beyond it a publication is refused
	// with "too many requests".
	PublishRate  int
	PublishBurst int
	// StaleCloseDelay closes connections that have not sent their
	// connect command within it.
	StaleCloseDelay time.Duration
	// AllowedOrigins for browser connections ("*" any; scheme://host[:port]).
	// Empty allows only same-host origins and requests without Origin.
	AllowedOrigins []string
}

// Backend builds a node's broker and presence manager.
type Backend interface {
	// Name is "memory" or "redis", for metrics and logs.
	Name() string
	// Setup installs the broker and presence manager on node.
	Setup(node *centrifuge.Node) error
	// Check reports whether the broker answers, for readiness.
	Check(ctx context.Context) error
	// Close releases what Setup opened.
	Close() error
}
