// Package realtimetest is the conformance suite of realtime.Hub: every
// backend, the in-memory fallback included, runs it, and so can a user's
// own.
//
// The hub under test must declare two namespaces: [Namespace] with
// presence, join/leave and history (size at least 100, TTL at least a
// minute), and [PlainNamespace] with none of them; user channels are
// "user:<subject>". Every test makes its own channel names from a random
// prefix, so runs never collide on a shared broker.
package realtimetest

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/apexgo/apex/realtime/port"
)

// The namespaces a hub under test declares.
const (
	Namespace      = "rtt"
	PlainNamespace = "rttplain"
	UserNamespace  = "user"
)

// Features says what a backend can do.
type Features struct {
	// Shared: hubs made by successive newHub calls within one test share
	// the broker (separate instances on one Redis), so the suite checks
	// fan-out, presence and history across them.
	Shared bool
}

// NewHub returns a running hub for t, shut down by t.Cleanup.
type NewHub func(t *testing.T) port.Hub

// Run runs every behaviour as a parallel subtest.
func Run(t *testing.T, f Features, newHub NewHub) {
	t.Helper()
	for _, c := range []struct {
		name string
		fn   func(*testing.T, Features, NewHub)
	}{
		{"PublishDelivers", PublishDelivers},
		{"History", History},
		{"NoHistory", NoHistory},
		{"Presence", Presence},
		{"JoinLeave", JoinLeave},
		{"PublishToUser", PublishToUser},
		{"BadChannel", BadChannel},
		{"AcrossInstances", AcrossInstances},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, f, newHub)
		})
	}
}

// Channel returns a fresh channel name in namespace ns.
func Channel(ns string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return ns + ":" + hex.EncodeToString(b)
}

// wait is how long the suite waits for a delivery.
const wait = 10 * time.Second

func subscriber(t *testing.T, h port.Hub) port.Subscriber {
	t.Helper()
	s, ok := h.(port.Subscriber)
	if !ok {
		t.Skip("hub does not implement port.Subscriber; the suite needs it to observe deliveries")
	}
	return s
}

// Inbox collects what an in-process subscription receives.
type Inbox struct {
	mu     sync.Mutex
	pubs   []port.Publication
	joins  []port.Client
	leaves []port.Client
	notify chan struct{}
}

func newInbox() *Inbox { return &Inbox{notify: make(chan struct{}, 1)} }

func (in *Inbox) poke() {
	select {
	case in.notify <- struct{}{}:
	default:
	}
}

// Subscribe subscribes an Inbox to channel as subject.
func Subscribe(t *testing.T, h port.Hub, channel, subject string) (*Inbox, port.Subscription) {
	t.Helper()
	in := newInbox()
	s, err := subscriber(t, h).Subscribe(t.Context(), port.SubscribeParams{
		Channel: channel, Subject: subject,
		OnPublication: func(p port.Publication) { in.mu.Lock(); in.pubs = append(in.pubs, p); in.mu.Unlock(); in.poke() },
		OnJoin:        func(c port.Client) { in.mu.Lock(); in.joins = append(in.joins, c); in.mu.Unlock(); in.poke() },
		OnLeave:       func(c port.Client) { in.mu.Lock(); in.leaves = append(in.leaves, c); in.mu.Unlock(); in.poke() },
	})
	if err != nil {
		t.Fatalf("Subscribe(%s): %v", channel, err)
	}
	t.Cleanup(s.Unsubscribe)
	return in, s
}

// WaitFor waits until cond holds for the inbox, failing after a while.
func (in *Inbox) WaitFor(t *testing.T, what string, cond func(pubs []port.Publication, joins, leaves []port.Client) bool) {
	t.Helper()
	deadline := time.After(wait)
	for {
		in.mu.Lock()
		ok := cond(in.pubs, in.joins, in.leaves)
		in.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-in.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			in.mu.Lock()
			defer in.mu.Unlock()
			t.Fatalf("waited %v for %s; have %d publications, %d joins, %d leaves", wait, what, len(in.pubs), len(in.joins), len(in.leaves))
		}
	}
}

// Publications returns a copy of what arrived.
func (in *Inbox) Publications() []port.Publication {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]port.Publication(nil), in.pubs...)
}

// Eventually polls cond until it holds or the wait ends.
func Eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", wait, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
