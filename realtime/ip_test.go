package realtime

import (
	"net"
	"net/http"
	"testing"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	_, lan, _ := net.ParseCIDR("10.0.0.0/8")
	trusted := []*net.IPNet{lan}
	for _, c := range []struct {
		remote, xff, want string
		trusted           []*net.IPNet
	}{
		{"203.0.113.9:5000", "1.2.3.4", "203.0.113.9", trusted},             // untrusted peer: XFF ignored
		{"10.0.0.2:5000", "1.2.3.4", "1.2.3.4", trusted},                    // trusted proxy
		{"10.0.0.2:5000", "6.6.6.6, 1.2.3.4, 10.0.0.3", "1.2.3.4", trusted}, // nearest untrusted hop
		{"10.0.0.2:5000", "", "10.0.0.2", trusted},
		{"10.0.0.2:5000", "garbage", "10.0.0.2", trusted},
		{"10.0.0.2:5000", "1.2.3.4", "10.0.0.2", nil}, // no trusted proxies
	} {
		r := &http.Request{RemoteAddr: c.remote, Header: http.Header{}}
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := clientIP(r, c.trusted); got != c.want {
			t.Errorf("clientIP(%s, XFF %q) = %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
}
