// Package port defines the realtime module's port, [Hub], with the
// optional [Subscriber], their value types and sentinel errors. It is a
// leaf so that the backends (realtime/memory, realtime/redis, a user's
// own) and the realtime module can share it; package realtime re-exports
// every name, and user code should import realtime.
package port

import (
	"context"
	"errors"
)

// Sentinel errors, for use with errors.Is.
var (
	// ErrBadChannel is returned for an empty channel name, one longer
	// than the configured maximum, or one with characters outside the
	// printable ASCII range.
	ErrBadChannel = errors.New("realtime: bad channel name")
	// ErrUnavailable wraps a broker or presence failure (Redis
	// unreachable, timed out): the operation did not happen, or its outcome
	// is unknown.
	ErrUnavailable = errors.New("realtime: broker unavailable")
	// ErrNoHistory is returned by History for a channel whose namespace
	// keeps no history, and ErrNoPresence by Presence for one whose
	// namespace tracks no presence.
	ErrNoHistory  = errors.New("realtime: channel keeps no history")
	ErrNoPresence = errors.New("realtime: channel tracks no presence")
	// ErrClosed is returned once the hub has been shut down.
	ErrClosed = errors.New("realtime: hub closed")
)

// Position is a place in a channel's stream: Offset counts publications
// from 1 within one Epoch; a new epoch (history lost, for instance when
// Redis restarted without persistence) restarts the count.
type Position struct {
	Offset uint64
	Epoch  string
}

// Publication is one message of a channel.
type Publication struct {
	// Channel is where it was published.
	Channel string
	// Data is the payload, JSON by convention (browser clients decode it).
	Data []byte
	// Offset is its place in the channel's stream; 0 for channels without
	// history.
	Offset uint64
	// Subject is the client's subject for a client-side publication, ""
	// for one from the server.
	Subject string
}

// Client is one connection present in a channel.
type Client struct {
	// ID identifies the connection.
	ID string
	// Subject is the authenticated user; "" for an anonymous connection.
	Subject string
}

// HistoryParams select publications from a channel's history.
type HistoryParams struct {
	// Limit is the most publications returned; 0 returns none (only the
	// current position), negative returns all that are kept.
	Limit int
	// Since, when set, returns only what came after this position. A
	// position from another epoch (history lost) returns what is kept
	// with the new epoch in History.Position, which the caller compares
	// with its own to learn that it missed publications.
	Since *Position
}

// History is what History returns: publications oldest first and the
// channel's current position.
type History struct {
	Publications []Publication
	Position     Position
}

// Hub publishes to the clients of a realtime service and reads channel
// state. Channels are strings "namespace:name"; the namespace (the part
// before the first ':', "" without one) decides history, presence and who
// may subscribe.
//
// Publish delivers data to every subscriber of channel on every instance
// sharing the broker, exactly once per subscriber and in publication order
// per channel, and appends it to the channel's history when its namespace
// keeps one; it returns the publication's position (zero without
// history). PublishToUser publishes into the subject's user channel, which
// each of the subject's connections is subscribed to from its start.
// Disconnect closes every connection of subject on every instance with
// reason (shown to clients; they do not reconnect on their own with the
// same credentials). Presence lists the connections subscribed to channel
// across instances. History returns what the channel keeps.
//
// Every method honours ctx's deadline where the backend is remote, returns
// an error wrapping [ErrUnavailable] when the broker fails and
// [ErrBadChannel] for an invalid channel, and [ErrClosed] after the hub
// was shut down. Implementations are safe for concurrent use.
type Hub interface {
	Publish(ctx context.Context, channel string, data []byte) (Position, error)
	PublishToUser(ctx context.Context, subject string, data []byte) error
	Disconnect(ctx context.Context, subject, reason string) error
	Presence(ctx context.Context, channel string) ([]Client, error)
	History(ctx context.Context, channel string, p HistoryParams) (History, error)
}

// SubscribeParams describe an in-process subscription.
type SubscribeParams struct {
	// Channel to subscribe to. Required.
	Channel string
	// Subject the subscription appears as in presence; "" for anonymous.
	Subject string
	// OnPublication receives each publication in order; required. It runs
	// on the subscription's own goroutine: a slow handler delays only this
	// subscription, and one slower than the client queue bound allows ends
	// it (OnClose reports why).
	OnPublication func(Publication)
	// OnJoin and OnLeave, when set and the namespace emits join/leave,
	// receive the clients that join or leave the channel.
	OnJoin, OnLeave func(Client)
	// OnClose, when set, is called once when the subscription ends for a
	// reason other than Unsubscribe (hub shutdown, slow consumer).
	OnClose func(reason string)
}

// Subscription is a live in-process subscription.
type Subscription interface {
	// Unsubscribe ends it; later calls do nothing.
	Unsubscribe()
}

// Subscriber is an optional ability of a [Hub]: subscribing in process,
// as a server-side client of the hub, with the same delivery guarantees
// as a remote client (every instance, in order, exactly once) and present
// in the channel's presence. Subscribe returns once the subscription is
// active, so that a Publish that starts after it returns is received. It
// returns [ErrBadChannel] and [ErrUnavailable] as the Hub does.
type Subscriber interface {
	Subscribe(ctx context.Context, p SubscribeParams) (Subscription, error)
}
