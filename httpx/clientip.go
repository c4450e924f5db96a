package httpx

import (
	"fmt"
	"net"

	"github.com/labstack/echo/v4"
)

// ClientIP returns the echo.IPExtractor of apex's servers, which answers
// echo's c.RealIP(): the TCP peer's address, unless the peer is in one of
// trusted (CIDRs of the reverse proxies in front of the service, e.g.
// "10.0.0.0/8"); then X-Forwarded-For is believed, and the client is its
// rightmost address not in trusted. Loopback and private ranges are
// trusted only when listed. With no trusted proxies, X-Forwarded-For and
// X-Real-IP are ignored, so a client cannot choose its own IP.
func ClientIP(trusted []string) (echo.IPExtractor, error) {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect(), nil
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, s := range trusted {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("httpx: trusted proxy %q is not a CIDR such as 10.0.0.0/8", s)
		}
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...), nil
}
