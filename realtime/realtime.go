// Package realtime is apex's WebSocket and SSE hub, built on
// github.com/centrifugal/centrifuge: rooms (channels in namespaces), a
// channel per user, presence, history with recovery after a reconnect,
// and fan-out across every instance sharing a Redis. Browser, Node,
// mobile and Go clients speak centrifuge's protocol (the npm
// "centrifuge" package in a browser).
//
// Server code publishes through the [Hub] port:
//
//	func notify(hub realtime.Hub) error {
//		_, err := hub.Publish(ctx, "rooms:lobby", []byte(`{"text":"hi"}`))
//		return err
//	}
//
// Clients connect with the access token that the auth module issues;
// which channels a subject may join is decided by an [Authorizer] (by
// default: its own user channel and the namespaces that config declares
// public). See docs/realtime.md.
package realtime

import (
	"github.com/apexgo/apex/realtime/hub"
	"github.com/apexgo/apex/realtime/port"
)

// Hub publishes to clients and reads channel state; see [port.Hub].
type Hub = port.Hub

// Subscriber subscribes in process; see [port.Subscriber].
type Subscriber = port.Subscriber

// Position, Publication, Client, HistoryParams, History, SubscribeParams
// and Subscription are the Hub's value types; see package port.
type (
	Position        = port.Position
	Publication     = port.Publication
	Client          = port.Client
	HistoryParams   = port.HistoryParams
	History         = port.History
	SubscribeParams = port.SubscribeParams
	Subscription    = port.Subscription
)

// Sentinel errors of the Hub, for use with errors.Is.
var (
	ErrBadChannel  = port.ErrBadChannel
	ErrUnavailable = port.ErrUnavailable
	ErrNoHistory   = port.ErrNoHistory
	ErrNoPresence  = port.ErrNoPresence
	ErrClosed      = port.ErrClosed
)

// Authorizer decides whether a subject may subscribe to, or publish
// into, a channel: nil allows, an error denies. Provide one to replace
// the default:
//
//	fx.Provide(func() realtime.Authorizer { return myRule })
type Authorizer = hub.Authorizer

// Access is the question an [Authorizer] answers.
type Access = hub.Access

// Action is Subscribe or Publish.
type Action = hub.Action

// The actions of an [Access].
const (
	Subscribe = hub.Subscribe
	Publish   = hub.Publish
)

// ErrForbidden is the default Authorizer's denial.
var ErrForbidden = hub.ErrForbidden

// DefaultAuthorizer allows a subject into its own user channel
// ("<user_namespace>:<subject>"), everyone who may connect into the
// channels of public namespaces, and client publications only where the
// namespace sets publish; it denies the rest. A custom Authorizer can
// call it for the cases it does not decide.
func DefaultAuthorizer(userNamespace string) Authorizer { return hub.DefaultAuthorizer(userNamespace) }
