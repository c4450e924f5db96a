// Package memory is the realtime hub for one process: centrifuge's
// in-memory broker and presence manager. History lives in process
// memory and vanishes with it; nothing crosses to other instances.
package memory

import (
	"context"

	"github.com/centrifugal/centrifuge"

	"github.com/apexgo/apex/realtime/hub"
)

// Backend is the in-memory broker and presence manager.
type Backend struct{}

var _ hub.Backend = Backend{}

// Name implements hub.Backend.
func (Backend) Name() string { return "memory" }

// Setup implements hub.Backend.
func (Backend) Setup(n *centrifuge.Node) error {
	b, err := centrifuge.NewMemoryBroker(n, centrifuge.MemoryBrokerConfig{})
	if err != nil {
		return err
	}
	p, err := centrifuge.NewMemoryPresenceManager(n, centrifuge.MemoryPresenceManagerConfig{})
	if err != nil {
		return err
	}
	n.SetBroker(b)
	n.SetPresenceManager(p)
	return nil
}

// Check implements hub.Backend: process memory is always there.
func (Backend) Check(context.Context) error { return nil }

// Close implements hub.Backend.
func (Backend) Close() error { return nil }

// New returns a running in-memory hub; cfg.Backend is set here.
func New(cfg hub.Config) (*hub.Hub, error) {
	cfg.Backend = Backend{}
	return hub.New(cfg)
}
