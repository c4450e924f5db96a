package hub

import (
	"context"
	"fmt"
	"sync"

	"github.com/centrifugal/centrifuge"
	"github.com/centrifugal/protocol"
	"google.golang.org/protobuf/proto"

	"github.com/apexgo/apex/realtime/port"
)

// Subscribe implements port.Subscriber: an in-process client of the node,
// subscribed server-side to p.Channel, whose pushes are decoded and handed
// to the callbacks on centrifuge's writer goroutine for this client. A
// handler slower than the client queue allows ends the subscription
// (OnClose("slow")), as for a remote client.
func (h *Hub) Subscribe(ctx context.Context, p port.SubscribeParams) (port.Subscription, error) {
	if err := h.validChannel(p.Channel); err != nil {
		return nil, err
	}
	if p.OnPublication == nil {
		return nil, fmt.Errorf("realtime: SubscribeParams.OnPublication is required")
	}
	if h.isClosed() {
		return nil, port.ErrClosed
	}
	t := &localTransport{p: p}
	cctx := context.WithValue(context.Background(), localKey, &centrifuge.Credentials{UserID: p.Subject})
	c, closeFn, err := centrifuge.NewClient(cctx, h.node, t)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", port.ErrUnavailable, err)
	}
	t.closeFn = closeFn
	if err := c.ConnectNoErrorToDisconnect(centrifuge.ConnectRequest{}); err != nil {
		_ = closeFn()
		return nil, fmt.Errorf("%w: connect: %w", port.ErrUnavailable, err)
	}
	opts := h.subscribeOptions(p.Channel)
	_, err = call(h, ctx, func() (struct{}, error) {
		return struct{}{}, c.Subscribe(p.Channel,
			centrifuge.WithEmitPresence(opts.EmitPresence),
			centrifuge.WithEmitJoinLeave(opts.EmitJoinLeave),
			centrifuge.WithPushJoinLeave(opts.PushJoinLeave && (p.OnJoin != nil || p.OnLeave != nil)),
		)
	})
	if err != nil {
		t.unsubscribed()
		_ = closeFn()
		return nil, err
	}
	return t, nil
}

// localTransport is a unidirectional Protobuf transport: each Write is
// one encoded Push.
type localTransport struct {
	p       port.SubscribeParams
	closeFn centrifuge.ClientCloseFunc
	once    sync.Once
	done    sync.Once
	mu      sync.Mutex
	ended   bool
}

func (t *localTransport) Unsubscribe() {
	t.unsubscribed()
	go func() { _ = t.closeFn() }() // never from inside a callback's writer goroutine
}

func (t *localTransport) unsubscribed() {
	t.mu.Lock()
	t.ended = true
	t.mu.Unlock()
}

func (t *localTransport) live() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.ended
}

func (*localTransport) Name() string                      { return "local" }
func (*localTransport) AcceptProtocol() string            { return "" }
func (*localTransport) Protocol() centrifuge.ProtocolType { return centrifuge.ProtocolTypeProtobuf }
func (*localTransport) ProtocolVersion() centrifuge.ProtocolVersion {
	return centrifuge.ProtocolVersion2
}
func (*localTransport) Unidirectional() bool      { return true }
func (*localTransport) Emulation() bool           { return false }
func (*localTransport) DisabledPushFlags() uint64 { return 0 }
func (*localTransport) PingPongConfig() centrifuge.PingPongConfig {
	return centrifuge.PingPongConfig{PingInterval: -1, PongTimeout: -1}
}

func (t *localTransport) Write(b []byte) error { return t.WriteMany(b) }

func (t *localTransport) WriteMany(bs ...[]byte) error {
	for _, b := range bs {
		var push protocol.Push
		if err := proto.Unmarshal(b, &push); err != nil {
			return err
		}
		if !t.live() {
			return nil
		}
		switch {
		case push.Pub != nil:
			pub := port.Publication{Channel: push.Channel, Data: push.Pub.Data, Offset: push.Pub.Offset}
			if push.Pub.Info != nil {
				pub.Subject = push.Pub.Info.User
			}
			t.p.OnPublication(pub)
		case push.Join != nil && push.Join.Info != nil && t.p.OnJoin != nil:
			t.p.OnJoin(port.Client{ID: push.Join.Info.Client, Subject: push.Join.Info.User})
		case push.Leave != nil && push.Leave.Info != nil && t.p.OnLeave != nil:
			t.p.OnLeave(port.Client{ID: push.Leave.Info.Client, Subject: push.Leave.Info.User})
		}
	}
	return nil
}

func (t *localTransport) Close(d centrifuge.Disconnect) error {
	if t.live() && t.p.OnClose != nil {
		t.done.Do(func() { t.p.OnClose(d.Reason) })
	}
	t.unsubscribed()
	return nil
}
