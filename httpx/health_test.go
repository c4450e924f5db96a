package httpx_test

import (
	"context"
	"net"
	"testing"

	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/httpx/httpxtest"
)

// tcpCheck is the simplest real check: can a TCP connection be opened.
func tcpCheck(name, addr string) httpx.HealthCheck {
	return httpx.CheckFunc(name, func(ctx context.Context) error {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

func TestCheckFuncConformance(t *testing.T) {
	t.Parallel()
	httpxtest.Run(t, func(t *testing.T) httpxtest.Harness {
		up, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { up.Close() })
		go func() {
			for {
				c, err := up.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		down, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		downAddr := down.Addr().String()
		down.Close()
		return httpxtest.Harness{Healthy: tcpCheck("tcp-up", up.Addr().String()), Unhealthy: tcpCheck("tcp-down", downAddr)}
	})
}
