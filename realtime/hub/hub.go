// Package hub is the centrifuge node behind apex's realtime module: the
// [port.Hub] and [port.Subscriber] implementation shared by the memory
// and Redis backends, the connection policy (authentication, channel
// authorization, limits) and the HTTP transports. Backends configure its
// broker; the realtime module builds it from configuration.
package hub

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/centrifugal/centrifuge"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/apexgo/apex/realtime/port"
)

var (
	_ port.Hub        = (*Hub)(nil)
	_ port.Subscriber = (*Hub)(nil)
)

// Hub is a running centrifuge node with apex's policy.
type Hub struct {
	cfg     Config
	node    *centrifuge.Node
	backend Backend
	log     *zap.Logger
	metrics *metrics

	mu       sync.Mutex
	bySubj   map[string]int
	byIP     map[string]int
	conns    map[*centrifuge.Client]*conn
	closed   bool
	draining bool
	stop     chan struct{}
	stopped  chan struct{}
	shutOnce sync.Once
}

// New builds and starts a hub (its node runs; Redis is dialled). Shut it
// down with Shutdown.
func New(cfg Config) (*Hub, error) {
	if cfg.Backend == nil {
		return nil, errors.New("realtime/hub: Config.Backend is required")
	}
	cfg = withDefaults(cfg)
	h := &Hub{
		cfg: cfg, backend: cfg.Backend, log: cfg.Log,
		bySubj: map[string]int{}, byIP: map[string]int{}, conns: map[*centrifuge.Client]*conn{},
		stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg, cfg.Backend.Name())
	if err != nil {
		return nil, err
	}
	h.metrics = m
	tick := connectionTick(cfg)
	node, err := centrifuge.New(centrifuge.Config{
		Name:                             cfg.Name,
		LogLevel:                         centrifuge.LogLevelInfo,
		LogHandler:                       h.logEntry,
		ClientQueueMaxSize:               cfg.Limits.ClientQueueBytes,
		ClientChannelLimit:               cfg.Limits.MaxChannelsPerClient,
		ChannelMaxLength:                 cfg.Limits.MaxChannelLength,
		ClientStaleCloseDelay:            cfg.Limits.StaleCloseDelay,
		ClientPresenceUpdateInterval:     tick,
		ClientChannelPositionCheckDelay:  positionCheckDelay(cfg.PositionCheckInterval),
		HistoryMaxPublicationLimit:       1000,
		RecoveryMaxPublicationLimit:      0,
		NodeInfoMetricsAggregateInterval: time.Minute,
		Metrics: centrifuge.MetricsConfig{
			MetricsNamespace:   cfg.MetricsNamespace,
			RegistererGatherer: reg,
			GetChannelNamespaceLabel: func(ch string) string {
				ns, _ := splitChannel(ch)
				if _, ok := cfg.Namespaces[ns]; ok {
					return ns
				}
				return "other"
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("realtime: %w", err)
	}
	h.node = node
	if err := cfg.Backend.Setup(node); err != nil {
		return nil, err
	}
	h.install()
	if err := node.Run(); err != nil {
		_ = cfg.Backend.Close()
		return nil, fmt.Errorf("realtime: start node: %w", err)
	}
	go h.recheckLoop()
	return h, nil
}

// connectionTick is how often each connection refreshes its presence
// entries and checks its stream positions (centrifuge runs both on one
// per-connection timer): DefaultPresenceUpdatePeriod, or
// PositionCheckInterval when shorter and some namespace keeps history,
// so that the position check's bound holds.
func connectionTick(c Config) time.Duration {
	if c.PositionCheckInterval >= DefaultPresenceUpdatePeriod {
		return DefaultPresenceUpdatePeriod
	}
	for _, ns := range c.Namespaces {
		if ns.history() {
			return c.PositionCheckInterval
		}
	}
	return DefaultPresenceUpdatePeriod
}

// positionCheckDelay is centrifuge's minimum time between two position
// checks of one subscription. centrifuge compares it in whole seconds
// ("more than delay seconds since the last check"), so half the interval
// makes every tick of the connection's timer check.
func positionCheckDelay(interval time.Duration) time.Duration {
	return max(interval/2, time.Nanosecond)
}

func withDefaults(c Config) Config {
	if c.Name == "" {
		c.Name, _ = os.Hostname()
	}
	c.UserNamespace = cmp.Or(c.UserNamespace, DefaultUserNamespace)
	if c.Authorize == nil {
		c.Authorize = DefaultAuthorizer(c.UserNamespace)
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
	c.Log = c.Log.Named("realtime")
	c.MetricsNamespace = cmp.Or(c.MetricsNamespace, "realtime_centrifuge")
	c.RecheckInterval = cmp.Or(c.RecheckInterval, DefaultRecheckInterval)
	c.CommandTimeout = cmp.Or(c.CommandTimeout, DefaultCommandTimeout)
	c.PositionCheckInterval = cmp.Or(c.PositionCheckInterval, DefaultPositionCheckInterval)
	l := &c.Limits
	l.MaxChannelLength = cmp.Or(l.MaxChannelLength, DefaultMaxChannelLength)
	l.MaxChannelsPerClient = cmp.Or(l.MaxChannelsPerClient, DefaultMaxChannelsPerClient)
	l.MessageSizeLimit = cmp.Or(l.MessageSizeLimit, DefaultMessageSizeLimit)
	l.ClientQueueBytes = cmp.Or(l.ClientQueueBytes, DefaultClientQueueBytes)
	l.WriteTimeout = cmp.Or(l.WriteTimeout, DefaultWriteTimeout)
	l.PingInterval = cmp.Or(l.PingInterval, DefaultPingInterval)
	l.PongTimeout = cmp.Or(l.PongTimeout, DefaultPongTimeout)
	l.MaxConnsPerSubject = cmp.Or(l.MaxConnsPerSubject, DefaultMaxConnsPerSubject)
	l.MaxConnsPerIP = cmp.Or(l.MaxConnsPerIP, DefaultMaxConnsPerIP)
	l.SubscribeRate = cmp.Or(l.SubscribeRate, DefaultSubscribeRate)
	l.SubscribeBurst = cmp.Or(l.SubscribeBurst, DefaultSubscribeBurst)
	l.PublishRate = cmp.Or(l.PublishRate, DefaultPublishRate)
	l.PublishBurst = cmp.Or(l.PublishBurst, DefaultPublishBurst)
	l.StaleCloseDelay = cmp.Or(l.StaleCloseDelay, DefaultStaleCloseDelay)
	return c
}

// DefaultAuthorizer allows a subject into its own user channel
// ("<userNamespace>:<subject>"), everyone into the channels of public
// namespaces, and client publications only where the namespace enables
// them; it denies the rest.
func DefaultAuthorizer(userNamespace string) Authorizer {
	return func(_ context.Context, a Access) error {
		own := a.Subject != "" && a.Channel == userNamespace+":"+a.Subject
		if a.Action == Publish && !a.Options.Publish {
			return fmt.Errorf("%w: namespace %q does not allow client publications", ErrForbidden, a.Namespace)
		}
		if own || (a.Options.Public && a.Namespace != userNamespace) {
			return nil
		}
		return fmt.Errorf("%w: %s is neither the subject's user channel nor in a public namespace", ErrForbidden, a.Channel)
	}
}

// Node is the underlying centrifuge node, for what the Hub does not wrap.
func (h *Hub) Node() *centrifuge.Node { return h.node }

// UserChannel is the channel of subject's connections.
func (h *Hub) UserChannel(subject string) string { return h.cfg.UserNamespace + ":" + subject }

func splitChannel(ch string) (ns, rest string) {
	if i := strings.IndexByte(ch, ':'); i >= 0 {
		return ch[:i], ch[i+1:]
	}
	return "", ch
}

func (h *Hub) namespace(ch string) (string, Namespace) {
	ns, _ := splitChannel(ch)
	return ns, h.cfg.Namespaces[ns]
}

func (h *Hub) validChannel(ch string) error {
	if ch == "" || len(ch) > h.cfg.Limits.MaxChannelLength {
		return fmt.Errorf("%w: %q (1 to %d bytes)", port.ErrBadChannel, ch, h.cfg.Limits.MaxChannelLength)
	}
	for i := 0; i < len(ch); i++ {
		if ch[i] <= ' ' || ch[i] > '~' {
			return fmt.Errorf("%w: %q has a character outside printable ASCII", port.ErrBadChannel, ch)
		}
	}
	return nil
}

func (h *Hub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// call runs a broker operation bounded by ctx and CommandTimeout, turning
// its failures into ErrUnavailable. centrifuge's calls take no context,
// so a call that outlives ctx returns ctx's error and finishes in the
// background.
func call[T any](h *Hub, ctx context.Context, f func() (T, error)) (T, error) {
	var zero T
	if h.isClosed() {
		return zero, port.ErrClosed
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.cfg.CommandTimeout)
		defer cancel()
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil { // centrifuge#399: never let a broker panic take the process
				done <- result{err: fmt.Errorf("%w: broker panic: %v", port.ErrUnavailable, r)}
			}
		}()
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && !errors.Is(r.err, port.ErrUnavailable) && !errors.Is(r.err, port.ErrNoHistory) {
			r.err = fmt.Errorf("%w: %w", port.ErrUnavailable, r.err)
		}
		return r.v, r.err
	case <-ctx.Done():
		return zero, fmt.Errorf("%w: %w", port.ErrUnavailable, ctx.Err())
	}
}

// Publish implements port.Hub.
func (h *Hub) Publish(ctx context.Context, channel string, data []byte) (port.Position, error) {
	if err := h.validChannel(channel); err != nil {
		return port.Position{}, err
	}
	return call(h, ctx, func() (port.Position, error) {
		r, err := h.node.Publish(channel, data, h.publishOptions(channel, nil)...)
		return port.Position{Offset: r.Offset, Epoch: r.Epoch}, err
	})
}

func (h *Hub) publishOptions(channel string, info *centrifuge.ClientInfo) []centrifuge.PublishOption {
	_, ns := h.namespace(channel)
	var opts []centrifuge.PublishOption
	if ns.history() {
		opts = append(opts, centrifuge.WithHistory(ns.HistorySize, ns.HistoryTTL))
	}
	if info != nil {
		opts = append(opts, centrifuge.WithClientInfo(info))
	}
	return opts
}

// PublishToUser implements port.Hub.
func (h *Hub) PublishToUser(ctx context.Context, subject string, data []byte) error {
	if subject == "" {
		return fmt.Errorf("%w: empty subject", port.ErrBadChannel)
	}
	_, err := h.Publish(ctx, h.UserChannel(subject), data)
	return err
}

// Disconnect implements port.Hub.
func (h *Hub) Disconnect(ctx context.Context, subject, reason string) error {
	if subject == "" {
		return errors.New("realtime: Disconnect needs a subject")
	}
	d := centrifuge.Disconnect{Code: CodeDisconnected, Reason: cmp.Or(reason, "disconnected by the server")}
	_, err := call(h, ctx, func() (struct{}, error) {
		return struct{}{}, h.node.Disconnect(subject, centrifuge.WithCustomDisconnect(d))
	})
	return err
}

// Presence implements port.Hub.
func (h *Hub) Presence(ctx context.Context, channel string) ([]port.Client, error) {
	if err := h.validChannel(channel); err != nil {
		return nil, err
	}
	if _, ns := h.namespace(channel); !ns.Presence {
		return nil, fmt.Errorf("%w: %s", port.ErrNoPresence, channel)
	}
	return call(h, ctx, func() ([]port.Client, error) {
		r, err := h.node.Presence(channel)
		if err != nil {
			return nil, err
		}
		out := make([]port.Client, 0, len(r.Presence))
		for _, c := range r.Presence {
			out = append(out, port.Client{ID: c.ClientID, Subject: c.UserID})
		}
		return out, nil
	})
}

// History implements port.Hub.
func (h *Hub) History(ctx context.Context, channel string, p port.HistoryParams) (port.History, error) {
	if err := h.validChannel(channel); err != nil {
		return port.History{}, err
	}
	if _, ns := h.namespace(channel); !ns.history() {
		return port.History{}, fmt.Errorf("%w: %s", port.ErrNoHistory, channel)
	}
	return call(h, ctx, func() (port.History, error) {
		opts := []centrifuge.HistoryOption{centrifuge.WithLimit(p.Limit)}
		if p.Since != nil {
			opts = append(opts, centrifuge.WithSince(&centrifuge.StreamPosition{Offset: p.Since.Offset, Epoch: p.Since.Epoch}))
		}
		r, err := h.node.History(channel, opts...)
		if err != nil {
			return port.History{}, err
		}
		out := port.History{Position: port.Position{Offset: r.Offset, Epoch: r.Epoch}}
		for _, pub := range r.Publications {
			out.Publications = append(out.Publications, fromPub(channel, pub))
		}
		return out, nil
	})
}

func fromPub(channel string, p *centrifuge.Publication) port.Publication {
	out := port.Publication{Channel: channel, Data: p.Data, Offset: p.Offset}
	if p.Info != nil {
		out.Subject = p.Info.UserID
	}
	return out
}

// Check reports whether the broker answers (readiness).
func (h *Hub) Check(ctx context.Context) error {
	if h.isClosed() {
		return port.ErrClosed
	}
	if err := h.backend.Check(ctx); err != nil {
		return fmt.Errorf("%w: %w", port.ErrUnavailable, err)
	}
	return nil
}

// Drain refuses new connections and tells every connected client to
// reconnect (code 3001 "shutdown": centrifuge clients reconnect, to
// another instance behind a load balancer). Publishing, history and
// presence keep working until Shutdown, so that work finishing during the
// app's stop still reaches history and other instances.
func (h *Hub) Drain(context.Context) error {
	h.mu.Lock()
	h.draining = true
	clients := make([]*centrifuge.Client, 0, len(h.conns))
	for c := range h.conns {
		clients = append(clients, c)
	}
	h.mu.Unlock()
	for _, c := range clients {
		c.Disconnect(centrifuge.DisconnectShutdown)
	}
	return nil
}

func (h *Hub) refusing() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed || h.draining
}

// Shutdown tells every client to reconnect (to another instance: code
// 3001 "shutdown", which centrifuge clients reconnect after), waits for
// the node to stop within ctx, and closes the backend.
func (h *Hub) Shutdown(ctx context.Context) error {
	var err error
	h.shutOnce.Do(func() {
		h.mu.Lock()
		h.closed = true
		h.mu.Unlock()
		close(h.stop)
		<-h.stopped
		err = h.node.Shutdown(ctx)
		err = errors.Join(err, h.backend.Close())
	})
	return err
}
