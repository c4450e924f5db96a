package hub

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/centrifugal/centrifuge"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// Disconnect codes apex sends. 4500-4999 are terminal: centrifuge
// clients do not reconnect after them.
const (
	// CodeDisconnected closes a subject's connections on Hub.Disconnect.
	CodeDisconnected = 4500
	// CodeRevoked closes a connection whose token was revoked.
	CodeRevoked = 4501
	// CodeSubscribeFlood closes a connection that subscribes faster than
	// the subscribe rate allows.
	CodeSubscribeFlood = 4502
	// CodeConnectionLimit refuses a connection beyond the per-subject or
	// per-IP limit.
	CodeConnectionLimit = 4503
	// CodeAnonymous refuses a connection without a token when anonymous
	// connections are not allowed.
	CodeAnonymous = 4504
)

type ctxKey int

const (
	ipKey ctxKey = iota
	localKey
	tokenKey
)

// WithRemoteIP records the client's IP for the per-IP limit; the HTTP
// handlers set it.
func WithRemoteIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, ipKey, ip)
}

// RemoteIP returns the IP recorded by WithRemoteIP, "" without one.
func RemoteIP(ctx context.Context) string {
	ip, _ := ctx.Value(ipKey).(string)
	return ip
}

// conn is apex's state of one connection.
type conn struct {
	subject string
	ip      string
	token   string
	subs    *rate.Limiter
	pubs    atomic.Pointer[rate.Limiter] // without a shared Limiter; made at the first publication
	flooded atomic.Bool                  // the subscribe flood was refused (logged once)
}

// publishLimiter is the connection's own publication bucket.
func (cn *conn) publishLimiter(l Limits) *rate.Limiter {
	if p := cn.pubs.Load(); p != nil {
		return p
	}
	cn.pubs.CompareAndSwap(nil, rate.NewLimiter(rate.Limit(l.PublishRate), l.PublishBurst))
	return cn.pubs.Load()
}

func (h *Hub) install() {
	h.node.OnConnecting(h.connecting)
	h.node.OnConnect(h.connected)
}

func (h *Hub) refuse(reason string, fields ...zap.Field) {
	h.metrics.refusals.WithLabelValues(reason).Inc()
	h.log.Info("realtime: refused", append([]zap.Field{zap.String("reason", reason)}, fields...)...)
}

func (h *Hub) connecting(ctx context.Context, e centrifuge.ConnectEvent) (centrifuge.ConnectReply, error) {
	if cred, ok := ctx.Value(localKey).(*centrifuge.Credentials); ok {
		return centrifuge.ConnectReply{Credentials: cred}, nil
	}
	if h.refusing() {
		return centrifuge.ConnectReply{}, centrifuge.DisconnectShutdown
	}
	ip, _ := ctx.Value(ipKey).(string)
	var id Identity
	switch {
	case e.Token != "" && h.cfg.Authenticate != nil:
		var err error
		id, err = h.cfg.Authenticate(ctx, e.Token)
		switch {
		case errors.Is(err, ErrTokenExpired):
			h.refuse("token_expired", zap.String("ip", ip))
			return centrifuge.ConnectReply{}, centrifuge.ErrorTokenExpired
		case errors.Is(err, ErrTokenInvalid):
			h.refuse("token_invalid", zap.String("ip", ip), zap.Error(err))
			return centrifuge.ConnectReply{}, centrifuge.DisconnectInvalidToken
		case err != nil:
			h.refuse("verifier_unavailable", zap.String("ip", ip), zap.Error(err))
			return centrifuge.ConnectReply{}, centrifuge.ErrorInternal
		}
	case e.Token != "":
		h.refuse("token_unverifiable", zap.String("ip", ip))
		return centrifuge.ConnectReply{}, centrifuge.DisconnectInvalidToken
	case !h.cfg.AllowAnonymous:
		h.refuse("anonymous", zap.String("ip", ip))
		return centrifuge.ConnectReply{}, centrifuge.Disconnect{Code: CodeAnonymous, Reason: "a token is required"}
	}
	reply := centrifuge.ConnectReply{
		Credentials:       &centrifuge.Credentials{UserID: id.Subject},
		ClientSideRefresh: true,
	}
	if e.Token != "" { // for connected, which keeps it for the recheck
		reply.Context = context.WithValue(ctx, tokenKey, e.Token)
	}
	if !id.ExpiresAt.IsZero() {
		reply.Credentials.ExpireAt = id.ExpiresAt.Unix()
	}
	if id.Subject != "" {
		ch := h.UserChannel(id.Subject)
		reply.Subscriptions = map[string]centrifuge.SubscribeOptions{ch: h.subscribeOptions(ch)}
	}
	return reply, nil
}

// admit counts a connection against the per-subject and per-IP limits;
// the disconnect handler releases it. It runs once the connection is
// established (in connected), so that every admitted connection has a
// disconnect handler and no count can leak.
func (h *Hub) admit(subject, ip string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if subject != "" && h.bySubj[subject] >= h.cfg.Limits.MaxConnsPerSubject {
		h.refuseLocked("conns_per_subject", zap.String("subject", subject))
		return centrifuge.Disconnect{Code: CodeConnectionLimit, Reason: "too many connections for this subject"}
	}
	if ip != "" && h.byIP[ip] >= h.cfg.Limits.MaxConnsPerIP {
		h.refuseLocked("conns_per_ip", zap.String("ip", ip))
		return centrifuge.Disconnect{Code: CodeConnectionLimit, Reason: "too many connections from this address"}
	}
	if subject != "" {
		h.bySubj[subject]++
	}
	if ip != "" {
		h.byIP[ip]++
	}
	return nil
}

func (h *Hub) refuseLocked(reason string, f zap.Field) { h.refuse(reason, f) }

func (h *Hub) release(subject, ip string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if subject != "" {
		if h.bySubj[subject]--; h.bySubj[subject] <= 0 {
			delete(h.bySubj, subject)
		}
	}
	if ip != "" {
		if h.byIP[ip]--; h.byIP[ip] <= 0 {
			delete(h.byIP, ip)
		}
	}
}

func (h *Hub) subscribeOptions(ch string) centrifuge.SubscribeOptions {
	_, ns := h.namespace(ch)
	return centrifuge.SubscribeOptions{
		EmitPresence:      ns.Presence,
		EmitJoinLeave:     ns.JoinLeave,
		PushJoinLeave:     ns.JoinLeave,
		EnablePositioning: ns.history(),
		EnableRecovery:    ns.history(),
	}
}

func (h *Hub) connected(c *centrifuge.Client) {
	if _, local := c.Context().Value(localKey).(*centrifuge.Credentials); local {
		return
	}
	ip := RemoteIP(c.Context())
	token, _ := c.Context().Value(tokenKey).(string)
	cn := &conn{
		subject: c.UserID(), ip: ip, token: token,
		subs: rate.NewLimiter(rate.Limit(h.cfg.Limits.SubscribeRate), h.cfg.Limits.SubscribeBurst),
	}
	admitErr := h.admit(cn.subject, ip)
	c.OnDisconnect(func(e centrifuge.DisconnectEvent) {
		if admitErr != nil {
			return
		}
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
		h.release(cn.subject, cn.ip)
		h.metrics.connections.Dec()
		if reason, ok := refusalCodes[e.Code]; ok {
			h.refuse(reason, zap.String("subject", cn.subject), zap.String("ip", cn.ip), zap.String("client", c.ID()))
		}
	})
	if admitErr != nil {
		c.Disconnect(admitErr.(centrifuge.Disconnect))
		return
	}
	h.mu.Lock()
	h.conns[c] = cn
	draining := h.draining || h.closed
	h.mu.Unlock()
	h.metrics.connections.Inc()
	if draining {
		// Drain ran between the connect reply and this handler, and did
		// not see this client: tell it to reconnect elsewhere too.
		c.Disconnect(centrifuge.DisconnectShutdown)
		return
	}

	c.OnRefresh(func(e centrifuge.RefreshEvent, cb centrifuge.RefreshCallback) {
		if h.cfg.Authenticate == nil || e.Token == "" {
			cb(centrifuge.RefreshReply{}, centrifuge.DisconnectExpired)
			return
		}
		id, err := h.cfg.Authenticate(c.Context(), e.Token)
		switch {
		case err == nil && id.Subject != cn.subject:
			h.refuse("refresh_other_subject", zap.String("subject", cn.subject))
			cb(centrifuge.RefreshReply{}, centrifuge.DisconnectInvalidToken)
		case errors.Is(err, ErrTokenExpired):
			cb(centrifuge.RefreshReply{}, centrifuge.ErrorTokenExpired)
		case errors.Is(err, ErrTokenInvalid):
			h.refuse("refresh_token_invalid", zap.String("subject", cn.subject), zap.Error(err))
			cb(centrifuge.RefreshReply{}, centrifuge.DisconnectInvalidToken)
		case err != nil:
			cb(centrifuge.RefreshReply{}, centrifuge.ErrorInternal)
		default:
			h.mu.Lock()
			cn.token = e.Token
			h.mu.Unlock()
			r := centrifuge.RefreshReply{}
			if !id.ExpiresAt.IsZero() {
				r.ExpireAt = id.ExpiresAt.Unix()
			}
			cb(r, nil)
		}
	})
	c.OnSubscribe(func(e centrifuge.SubscribeEvent, cb centrifuge.SubscribeCallback) {
		if !cn.subs.Allow() {
			// Subscribes already in flight when the close is decided
			// are refused too, but the flood is one refusal.
			if cn.flooded.CompareAndSwap(false, true) {
				h.refuse("subscribe_rate", zap.String("subject", cn.subject), zap.String("ip", cn.ip))
			}
			cb(centrifuge.SubscribeReply{}, centrifuge.Disconnect{Code: CodeSubscribeFlood, Reason: "subscribe rate exceeded"})
			return
		}
		if err := h.authorize(c.Context(), cn.subject, e.Channel, Subscribe); err != nil {
			cb(centrifuge.SubscribeReply{}, err)
			return
		}
		cb(centrifuge.SubscribeReply{Options: h.subscribeOptions(e.Channel)}, nil)
	})
	c.OnPublish(func(e centrifuge.PublishEvent, cb centrifuge.PublishCallback) {
		if err := h.authorize(c.Context(), cn.subject, e.Channel, Publish); err != nil {
			cb(centrifuge.PublishReply{}, err)
			return
		}
		if err := h.allowPublish(c.Context(), cn); err != nil {
			cb(centrifuge.PublishReply{}, err)
			return
		}
		r, err := h.node.Publish(e.Channel, e.Data, h.publishOptions(e.Channel, e.ClientInfo)...)
		if err != nil {
			h.log.Warn("realtime: client publication failed", zap.String("channel", e.Channel), zap.Error(err))
			cb(centrifuge.PublishReply{}, centrifuge.ErrorInternal)
			return
		}
		cb(centrifuge.PublishReply{Result: &r}, nil)
	})
	c.OnPresence(func(e centrifuge.PresenceEvent, cb centrifuge.PresenceCallback) {
		if _, ns := h.namespace(e.Channel); !ns.Presence {
			cb(centrifuge.PresenceReply{}, centrifuge.ErrorNotAvailable)
			return
		}
		if err := h.authorize(c.Context(), cn.subject, e.Channel, Subscribe); err != nil {
			cb(centrifuge.PresenceReply{}, err)
			return
		}
		cb(centrifuge.PresenceReply{}, nil)
	})
	c.OnHistory(func(e centrifuge.HistoryEvent, cb centrifuge.HistoryCallback) {
		if _, ns := h.namespace(e.Channel); !ns.history() {
			cb(centrifuge.HistoryReply{}, centrifuge.ErrorNotAvailable)
			return
		}
		if err := h.authorize(c.Context(), cn.subject, e.Channel, Subscribe); err != nil {
			cb(centrifuge.HistoryReply{}, err)
			return
		}
		cb(centrifuge.HistoryReply{}, nil)
	})
}

// refusalCodes are the disconnects centrifuge makes on its own that count
// as refusals.
var refusalCodes = map[uint32]string{
	centrifuge.DisconnectSlow.Code:                  "slow_client",
	centrifuge.DisconnectWriteError.Code:            "write_error",
	centrifuge.DisconnectNoPong.Code:                "no_pong",
	centrifuge.DisconnectTooManyRequests.Code:       "too_many_requests",
	centrifuge.DisconnectBadRequest.Code:            "bad_request",
	centrifuge.DisconnectChannelLimit.Code:          "channel_limit",
	centrifuge.DisconnectStale.Code:                 "stale",
	centrifuge.DisconnectTooManyErrors.Code:         "too_many_errors",
	centrifuge.DisconnectExpired.Code:               "expired",
	centrifuge.DisconnectPermissionDenied.Code:      "permission_denied",
	centrifuge.DisconnectInappropriateProtocol.Code: "bad_protocol",
	CodeRevoked: "revoked",
	// CodeSubscribeFlood is counted where it is decided ("subscribe_rate").
}

func (h *Hub) authorize(ctx context.Context, subject, channel string, a Action) error {
	if err := h.validChannel(channel); err != nil {
		h.refuse("bad_channel", zap.String("subject", subject), zap.String("channel", channel))
		return centrifuge.ErrorBadRequest
	}
	ns, opts := h.namespace(channel)
	if err := h.cfg.Authorize(ctx, Access{Subject: subject, Channel: channel, Namespace: ns, Options: opts, Action: a}); err != nil {
		h.refuse("forbidden_"+string(a), zap.String("subject", subject), zap.String("channel", channel), zap.Error(err))
		return centrifuge.ErrorPermissionDenied
	}
	return nil
}

func (h *Hub) allowPublish(ctx context.Context, cn *conn) error {
	if h.cfg.AllowPublish == nil || cn.subject == "" {
		if !cn.publishLimiter(h.cfg.Limits).Allow() {
			h.refuse("publish_rate", zap.String("subject", cn.subject), zap.String("ip", cn.ip))
			return centrifuge.ErrorTooManyRequests
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.CommandTimeout)
	defer cancel()
	allowed, err := h.cfg.AllowPublish(ctx, cn.subject)
	if err != nil {
		h.refuse("publish_limiter_unavailable", zap.String("subject", cn.subject), zap.Error(err))
		return centrifuge.ErrorInternal
	}
	if !allowed {
		h.refuse("publish_rate", zap.String("subject", cn.subject))
		return centrifuge.ErrorTooManyRequests
	}
	return nil
}

// recheckLoop re-verifies every connection's token each RecheckInterval
// and closes those whose token became invalid (revoked, the subject
// logged out).
func (h *Hub) recheckLoop() {
	defer close(h.stopped)
	if h.cfg.RecheckInterval < 0 || h.cfg.Authenticate == nil {
		<-h.stop
		return
	}
	t := time.NewTicker(h.cfg.RecheckInterval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			h.recheck()
		}
	}
}

func (h *Hub) recheck() {
	type item struct {
		c     *centrifuge.Client
		token string
	}
	h.mu.Lock()
	items := make([]item, 0, len(h.conns))
	for c, cn := range h.conns {
		if cn.token != "" {
			items = append(items, item{c, cn.token})
		}
	}
	h.mu.Unlock()
	for _, it := range items {
		ctx, cancel := context.WithTimeout(context.Background(), h.cfg.CommandTimeout)
		_, err := h.cfg.Authenticate(ctx, it.token)
		cancel()
		if errors.Is(err, ErrTokenInvalid) {
			it.c.Disconnect(centrifuge.Disconnect{Code: CodeRevoked, Reason: "token revoked"})
		}
	}
}

func (h *Hub) logEntry(e centrifuge.LogEntry) {
	fields := make([]zap.Field, 0, len(e.Fields))
	for k, v := range e.Fields {
		fields = append(fields, zap.Any(k, v))
	}
	msg := "centrifuge: " + e.Message
	switch e.Level {
	case centrifuge.LogLevelError:
		h.log.Error(msg, fields...)
	case centrifuge.LogLevelWarn:
		h.log.Warn(msg, fields...)
	default:
		h.log.Debug(msg, fields...)
	}
}
