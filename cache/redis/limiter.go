package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/apexgo/apex/cache/port"
	"github.com/apexgo/apex/internal/redisconn"
)

// gcraScript is GCRA in one atomic step, with time from the server so that
// instances with skewed clocks agree. Times are in microseconds. It
// returns {allowed, remaining, retry_after_us, reset_after_us}.
var gcraScript = rueidis.NewLuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  tat = math.max(tonumber(stored), now)
end
local new_tat = tat + interval
local diff = now - (new_tat - interval * burst)
if diff < 0 then
  return {0, 0, -diff, tat - now}
end
local reset_after = new_tat - now
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil(reset_after / 1000))
local remaining = math.floor(diff / interval)
local retry_after = 0
if remaining == 0 then
  retry_after = interval - diff
end
return {1, remaining, retry_after, reset_after}
`)

// LimiterConfig configures a Limiter.
type LimiterConfig struct {
	// Prefix starts every key. Default none.
	Prefix string
	// CommandTimeout bounds each call. Default redis.command_timeout's,
	// 3s.
	CommandTimeout time.Duration
}

// Limiter is a GCRA [port.Limiter] in Redis: one EVALSHA round trip per
// decision.
type Limiter struct {
	client rueidis.Client
	cfg    LimiterConfig
}

var _ port.Limiter = (*Limiter)(nil)

// NewLimiter returns a Limiter on client.
func NewLimiter(client rueidis.Client, cfg LimiterConfig) (*Limiter, error) {
	if client == nil {
		return nil, errors.New("redis: nil client")
	}
	if cfg.CommandTimeout < 0 {
		return nil, errors.New("redis: CommandTimeout must not be negative")
	}
	cfg.CommandTimeout = cmp.Or(cfg.CommandTimeout, redisconn.DefaultCommandTimeout)
	return &Limiter{client: client, cfg: cfg}, nil
}

// Allow implements [port.Limiter].
func (l *Limiter) Allow(ctx context.Context, key string, limit port.Limit) (port.Result, error) {
	if !limit.Valid() {
		return port.Result{}, fmt.Errorf("%w: %+v", port.ErrInvalidLimit, limit)
	}
	interval := limit.Interval().Microseconds()
	if interval < 1 {
		return port.Result{}, fmt.Errorf("%w: more than one event per microsecond", port.ErrInvalidLimit)
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.CommandTimeout)
	defer cancel()
	vals, err := gcraScript.Exec(ctx, l.client, []string{l.cfg.Prefix + key},
		[]string{strconv.FormatInt(interval, 10), strconv.Itoa(limit.Burst)}).AsIntSlice()
	if err != nil {
		return port.Result{}, fmt.Errorf("cache: redis rate limit: %w", err)
	}
	if len(vals) != 4 {
		return port.Result{}, fmt.Errorf("cache: redis rate limit: script returned %d values", len(vals))
	}
	return port.Result{
		Allowed:    vals[0] == 1,
		Remaining:  int(vals[1]),
		RetryAfter: time.Duration(vals[2]) * time.Microsecond,
		ResetAfter: time.Duration(vals[3]) * time.Microsecond,
	}, nil
}
