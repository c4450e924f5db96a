package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/httpx"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	lan := []string{"10.0.0.0/8"}
	for _, c := range []struct {
		trusted                 []string
		remote, xff, real, want string
	}{
		{lan, "203.0.113.9:5000", "1.2.3.4", "", "203.0.113.9"},               // untrusted peer: XFF ignored
		{lan, "10.0.0.2:5000", "1.2.3.4", "", "1.2.3.4"},                      // trusted proxy
		{lan, "10.0.0.2:5000", "6.6.6.6, 1.2.3.4, 10.0.0.3", "", "1.2.3.4"},   // nearest untrusted hop
		{lan, "10.0.0.2:5000", "", "", "10.0.0.2"},                            // no header
		{lan, "10.0.0.2:5000", "garbage", "", "10.0.0.2"},                     // not an address
		{nil, "10.0.0.2:5000", "1.2.3.4", "5.6.7.8", "10.0.0.2"},              // no trusted proxies: headers ignored
		{nil, "127.0.0.1:5000", "1.2.3.4", "", "127.0.0.1"},                   // loopback not trusted unless listed
		{[]string{"127.0.0.0/8"}, "127.0.0.1:5000", "1.2.3.4", "", "1.2.3.4"}, // listed
		{[]string{"2001:db8::/32"}, "[2001:db8::1]:5000", "2001:db8::2, 2a00::7", "", "2a00::7"},
	} {
		extract, err := httpx.ClientIP(c.trusted)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if c.real != "" {
			r.Header.Set("X-Real-IP", c.real)
		}
		if got := extract(r); got != c.want {
			t.Errorf("trusted %v, peer %s, X-Forwarded-For %q: %s, want %s", c.trusted, c.remote, c.xff, got, c.want)
		}
	}
	if _, err := httpx.ClientIP([]string{"10.0.0.1"}); err == nil || !strings.Contains(err.Error(), "10.0.0.1") {
		t.Fatalf("an address without a prefix length: %v, want an error naming it", err)
	}
}

// The app's server answers c.RealIP() by http.trusted_proxies; a value
// that is not a CIDR is a start error naming the key.
func TestTrustedProxiesConfig(t *testing.T) {
	t.Parallel()
	realIP := apptest.With(fx.Provide(httpx.AsRoute(func() httpx.Route {
		return httpx.Route{Method: http.MethodGet, Path: "/ip", Handler: func(c echo.Context) error { return c.String(http.StatusOK, c.RealIP()) }}
	})))
	for _, c := range []struct {
		trusted []string
		want    string
	}{{nil, "127.0.0.1"}, {[]string{"127.0.0.0/8"}, "203.0.113.9"}} {
		a := apptest.New(t, apex.Modules, realIP, apptest.Config(map[string]any{"http.trusted_proxies": c.trusted}))
		if r := a.Do(t, http.MethodGet, "/ip", "", "X-Forwarded-For", "203.0.113.9"); string(r.Body) != c.want {
			t.Errorf("http.trusted_proxies %v: client %s, want %s", c.trusted, r.Body, c.want)
		}
	}
	_, err := apptest.Start(t, apex.Modules, apptest.Config(map[string]any{"http.trusted_proxies": []string{"10.0.0.1"}}))
	if err == nil || !strings.Contains(err.Error(), "http.trusted_proxies") {
		t.Fatalf("a trusted proxy that is not a CIDR: %v, want a start error naming http.trusted_proxies", err)
	}
}
