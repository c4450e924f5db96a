package hub

import (
	"testing"
	"time"
)

// The position check's bound holds: a position_check_interval below the
// presence refresh shortens the connections' timer when some namespace
// keeps history, and every tick checks (centrifuge compares the delay in
// whole seconds).
func TestConnectionTick(t *testing.T) {
	hist := map[string]Namespace{"room": {HistorySize: 10, HistoryTTL: time.Minute}}
	for _, c := range []struct {
		interval time.Duration
		ns       map[string]Namespace
		want     time.Duration
	}{
		{10 * time.Second, hist, 10 * time.Second},
		{time.Second, hist, time.Second},
		{10 * time.Second, map[string]Namespace{"room": {Presence: true}}, DefaultPresenceUpdatePeriod},
		{time.Minute, hist, DefaultPresenceUpdatePeriod},
	} {
		if got := connectionTick(Config{PositionCheckInterval: c.interval, Namespaces: c.ns}); got != c.want {
			t.Errorf("interval %v: tick %v, want %v", c.interval, got, c.want)
		}
		// A check is due at every tick: more whole seconds than the delay's
		// have passed since the previous one.
		tick := connectionTick(Config{PositionCheckInterval: c.interval, Namespaces: c.ns})
		if d := positionCheckDelay(c.interval); d <= 0 || int64(tick.Seconds()) <= int64(d.Seconds()) {
			if c.interval <= tick {
				t.Errorf("interval %v: delay %v does not let every %v tick check", c.interval, d, tick)
			}
		}
	}
}
