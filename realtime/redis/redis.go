// Package redis is the realtime hub shared by every instance on one
// Redis: centrifuge's Redis broker (PUB/SUB fan-out, history in Redis
// streams) and presence manager, on the same server as apex's other
// modules. centrifuge dials its own rueidis clients from [Config]; the
// realtime module maps apex's redis.* settings onto it.
package redis

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/centrifugal/centrifuge"
	"github.com/redis/rueidis"

	"github.com/apexgo/apex/realtime/hub"
)

// Defaults.
const (
	DefaultPrefix      = "realtime"
	DefaultPresenceTTL = time.Minute
	DefaultDialTimeout = 5 * time.Second
	DefaultIOTimeout   = 4 * time.Second
)

// Config says how to reach Redis and where to keep state there.
type Config struct {
	// Addr is one server host:port; Addrs are Cluster seeds, or Sentinels
	// with MasterName. Exactly one of Addr and Addrs.
	Addr       string
	Addrs      []string
	MasterName string
	Username   string
	Password   string
	DB         int
	TLS        *tls.Config
	// DialTimeout bounds connecting; IOTimeout each read/write and the
	// client's periodic PING. Defaults 5s and 4s.
	DialTimeout time.Duration
	IOTimeout   time.Duration
	// ClientName labels the connections in CLIENT LIST.
	ClientName string
	// Prefix starts every key and PUB/SUB channel. Default "realtime".
	Prefix string
	// PresenceTTL is how long a presence entry lives without its
	// connection's refresh (every 25s). Default 1m.
	PresenceTTL time.Duration
	// Client, when set (the process's apex client), answers the readiness
	// PING; without it readiness reads a probe channel's stream position
	// through the broker.
	Client rueidis.Client
}

// Backend is centrifuge's Redis broker and presence manager.
type Backend struct {
	cfg   Config
	shard *centrifuge.RedisShard
	node  *centrifuge.Node
}

var _ hub.Backend = (*Backend)(nil)

// NewBackend validates cfg and applies defaults; Setup connects.
func NewBackend(cfg Config) (*Backend, error) {
	if (cfg.Addr == "") == (len(cfg.Addrs) == 0) {
		return nil, errors.New("realtime/redis: set exactly one of Addr and Addrs")
	}
	cfg.Prefix = cmp.Or(cfg.Prefix, DefaultPrefix)
	cfg.PresenceTTL = cmp.Or(cfg.PresenceTTL, DefaultPresenceTTL)
	cfg.DialTimeout = cmp.Or(cfg.DialTimeout, DefaultDialTimeout)
	cfg.IOTimeout = cmp.Or(cfg.IOTimeout, DefaultIOTimeout)
	return &Backend{cfg: cfg}, nil
}

// Name implements hub.Backend.
func (*Backend) Name() string { return "redis" }

func (b *Backend) shardConfig() centrifuge.RedisShardConfig {
	c := b.cfg
	sc := centrifuge.RedisShardConfig{
		User: c.Username, Password: c.Password, DB: c.DB, ClientName: c.ClientName,
		TLSConfig: c.TLS, ConnectTimeout: c.DialTimeout, IOTimeout: c.IOTimeout,
	}
	switch {
	case c.Addr != "":
		sc.Address = c.Addr
	case c.MasterName != "":
		sc.SentinelAddresses = c.Addrs
		sc.SentinelMasterName = c.MasterName
		sc.SentinelUser, sc.SentinelPassword = c.Username, c.Password
		sc.SentinelTLSConfig = c.TLS
	default:
		sc.ClusterAddresses = c.Addrs
	}
	return sc
}

// Setup implements hub.Backend: it dials the shard (a failure names the
// address) and installs the broker and presence manager.
func (b *Backend) Setup(n *centrifuge.Node) error {
	shard, err := centrifuge.NewRedisShard(n, b.shardConfig())
	if err != nil {
		return fmt.Errorf("realtime: cannot connect to Redis at %s: %w", b.where(), err)
	}
	b.shard = shard
	br, err := centrifuge.NewRedisBroker(n, centrifuge.RedisBrokerConfig{Prefix: b.cfg.Prefix, Shards: []*centrifuge.RedisShard{shard}})
	if err != nil {
		shard.Close()
		return fmt.Errorf("realtime: Redis broker: %w", err)
	}
	pm, err := centrifuge.NewRedisPresenceManager(n, centrifuge.RedisPresenceManagerConfig{
		Prefix: b.cfg.Prefix, PresenceTTL: b.cfg.PresenceTTL, Shards: []*centrifuge.RedisShard{shard},
	})
	if err != nil {
		shard.Close()
		return fmt.Errorf("realtime: Redis presence: %w", err)
	}
	n.SetBroker(br)
	n.SetPresenceManager(pm)
	b.node = n
	return nil
}

func (b *Backend) where() string {
	if b.cfg.Addr != "" {
		return b.cfg.Addr
	}
	return fmt.Sprint(b.cfg.Addrs)
}

// Check implements hub.Backend: a PING, or a broker read.
func (b *Backend) Check(ctx context.Context) error {
	if b.cfg.Client != nil {
		return b.cfg.Client.Do(ctx, b.cfg.Client.B().Ping().Build()).Error()
	}
	done := make(chan error, 1)
	go func() { _, err := b.node.History(probeChannel, centrifuge.WithLimit(0)); done <- err }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

const probeChannel = "__apex_readiness"

// Close implements hub.Backend.
func (b *Backend) Close() error {
	if b.shard != nil {
		b.shard.Close()
	}
	return nil
}

// New returns a running hub on Redis; cfg.Backend is set here.
func New(rc Config, cfg hub.Config) (*hub.Hub, error) {
	b, err := NewBackend(rc)
	if err != nil {
		return nil, err
	}
	cfg.Backend = b
	return hub.New(cfg)
}
