package driver_test

import (
	"strings"
	"testing"

	"github.com/apexgo/apex/internal/driver"
)

func TestUseRedisWithoutClient(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		value   string
		want    bool
		wantErr string
	}{
		{value: "auto"}, {value: ""}, {value: "memory"},
		{value: "redis", wantErr: "queue.driver is redis but Redis is not configured: set redis.addr (APP_REDIS__ADDR)"},
		{value: "mongo", wantErr: `queue.driver (APP_QUEUE__DRIVER): unknown driver "mongo"`},
	} {
		got, err := driver.UseRedis("queue.driver", c.value, nil)
		if got != c.want || (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("UseRedis(%q, nil) = %v, %v; want %v, %q", c.value, got, err, c.want, c.wantErr)
		}
	}
}
