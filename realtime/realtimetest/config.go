package realtimetest

import (
	"time"

	"github.com/apexgo/apex/realtime/hub"
)

// HubConfig returns a hub.Config with the namespaces the suite needs and
// anonymous connections allowed; a backend's test sets Backend.
func HubConfig() hub.Config {
	return hub.Config{
		AllowAnonymous: true,
		UserNamespace:  UserNamespace,
		Namespaces: map[string]hub.Namespace{
			Namespace:      {Public: true, Presence: true, JoinLeave: true, HistorySize: 200, HistoryTTL: 5 * time.Minute},
			PlainNamespace: {Public: true},
		},
	}
}
