// Package redis is the Redis backend of the auth stores, on the process's
// rueidis client: revoked token IDs as keys that expire with the token,
// and refresh-token families rotated by Lua scripts, so that instances
// sharing a Redis share both.
//
// Revocation checks are cheap: Revoked reads its key with rueidis
// client-side caching (DoCache), so a token that is not revoked costs one
// round trip per instance and is then answered from process memory until
// it expires; a Revoke anywhere makes Redis invalidate that local copy in
// every instance. The instance that revoked sees it at once, without
// waiting for the invalidation. With client-side caching off
// (redis.client_cache_size 0), every check is a GET.
package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/apexgo/apex/auth/port"
	"github.com/apexgo/apex/internal/redisconn"
)

// Config configures the stores.
type Config struct {
	// Prefix starts every key, so services can share a Redis.
	Prefix string
	// CommandTimeout bounds each call when ctx has no earlier deadline.
	// Default redis.command_timeout's, redisconn.DefaultCommandTimeout
	// (3s).
	CommandTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = redisconn.DefaultCommandTimeout
	}
	return c
}

// Revocations is an [port.Revocations] in Redis.
type Revocations struct {
	client rueidis.Client
	cfg    Config
	recent recent
}

var _ port.Revocations = (*Revocations)(nil)

// NewRevocations returns a store on client.
func NewRevocations(client rueidis.Client, cfg Config) (*Revocations, error) {
	if client == nil {
		return nil, errors.New("auth/redis: nil client")
	}
	return &Revocations{client: client, cfg: cfg.withDefaults()}, nil
}

func (r *Revocations) key(id string) string { return r.cfg.Prefix + "rv:" + id }

// Revoke implements [port.Revocations].
func (r *Revocations) Revoke(ctx context.Context, id string, until time.Time) error {
	if !until.After(time.Now()) {
		return ctx.Err()
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.CommandTimeout)
	defer cancel()
	err := r.client.Do(ctx, r.client.B().Set().Key(r.key(id)).Value("1").Pxat(until).Build()).Error()
	if err != nil {
		return fmt.Errorf("auth/redis: SET: %w", err)
	}
	r.recent.add(id, until)
	return nil
}

// Revoked implements [port.Revocations].
func (r *Revocations) Revoked(ctx context.Context, id string, exp time.Time) (bool, error) {
	if err := ctx.Err(); err != nil { // DoCache serves local copies without looking at ctx
		return false, err
	}
	now := time.Now()
	if r.recent.revoked(id, now) {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.CommandTimeout)
	defer cancel()
	var resp rueidis.RedisResult
	if r.recent.bypass(now) {
		resp = r.client.Do(ctx, r.client.B().Get().Key(r.key(id)).Build())
	} else {
		// Cache the answer locally until the token is refused anyway
		// (exp: its expiry plus the leeway, as the port says); Redis
		// invalidates it on a Revoke from any instance.
		resp = r.client.DoCache(ctx, r.client.B().Get().Key(r.key(id)).Cache(), max(exp.Sub(now), time.Second))
	}
	err := resp.Error()
	if rueidis.IsRedisNil(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("auth/redis: GET: %w", err)
	}
	return true, nil
}

// Redis sends the invalidation of a local copy after the reply to the
// write that caused it, so it can trail the write by milliseconds. recent
// remembers the IDs this instance revoked in the last recentFor and
// answers them itself. Past recentMax IDs it forgets them and, for
// recentFor, reads from Redis directly.
const (
	recentFor = 2 * time.Second
	recentMax = 1 << 14
)

type recent struct {
	ids sync.Map // id → time.Time (until when to answer "revoked" locally)
	n   atomic.Int64
	all atomic.Int64 // UnixNano until which every check skips the local cache
}

func (w *recent) add(id string, until time.Time) {
	now := time.Now()
	if w.n.Load() >= recentMax {
		w.all.Store(now.Add(recentFor).UnixNano())
		w.ids.Clear()
		w.n.Store(0)
		return
	}
	local := now.Add(recentFor)
	if until.Before(local) {
		local = until
	}
	if _, loaded := w.ids.Swap(id, local); !loaded {
		w.n.Add(1)
	}
}

func (w *recent) bypass(now time.Time) bool { return now.UnixNano() < w.all.Load() }

func (w *recent) revoked(id string, now time.Time) bool {
	if w.n.Load() == 0 {
		return false
	}
	v, ok := w.ids.Load(id)
	if !ok {
		return false
	}
	if now.Before(v.(time.Time)) {
		return true
	}
	if w.ids.CompareAndDelete(id, v) {
		w.n.Add(-1)
	}
	return false
}

// Refresh is an [port.RefreshStore] in Redis. A family is a hash
// (subject, data, revoked flag, newest expiry, last access token) and
// each of its tokens a key named by the hash of its secret, holding 0
// (live) or 1 (used), expiring with the token; the keys of a family share
// a hash tag, so the scripts work on Redis Cluster.
type Refresh struct {
	client rueidis.Client
	cfg    Config
}

var _ port.RefreshStore = (*Refresh)(nil)

// NewRefresh returns a store on client.
func NewRefresh(client rueidis.Client, cfg Config) (*Refresh, error) {
	if client == nil {
		return nil, errors.New("auth/redis: nil client")
	}
	return &Refresh{client: client, cfg: cfg.withDefaults()}, nil
}

func (s *Refresh) familyKey(f string) string { return s.cfg.Prefix + "rf:{" + f + "}" }

func (s *Refresh) tokenKey(f string, hash []byte) string {
	return s.cfg.Prefix + "rf:{" + f + "}:" + fmt.Sprintf("%x", hash)
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

var createScript = rueidis.NewLuaScript(`
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'sub', ARGV[1], 'data', ARGV[2], 'rev', '0', 'exp', ARGV[3], 'ajti', ARGV[4], 'aexp', ARGV[5], 'st', ARGV[6])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('SET', KEYS[2], '0', 'PXAT', ARGV[3])
return 1`)

// Create implements [port.RefreshStore].
func (s *Refresh) Create(ctx context.Context, r port.RefreshRecord) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CommandTimeout)
	defer cancel()
	err := createScript.Exec(ctx, s.client,
		[]string{s.familyKey(r.Family), s.tokenKey(r.Family, r.Hash)},
		[]string{r.Subject, rueidis.BinaryString(r.Data), ms(r.ExpiresAt), r.AccessID, ms(r.AccessExpiresAt), strconv.FormatInt(r.Started.UnixNano(), 10)}).Error()
	if err != nil {
		return fmt.Errorf("auth/redis: create refresh family: %w", err)
	}
	return nil
}

// rotateScript returns {0} for an invalid token, {2, family fields} for a
// reused one (after revoking the family) and {1, family fields, the old
// token's remaining ms} on success. The family fields are subject, data,
// last access jti and expiry, start.
var rotateScript = rueidis.NewLuaScript(`
local f = redis.call('HMGET', KEYS[1], 'sub', 'data', 'rev', 'ajti', 'aexp', 'exp', 'st')
if not f[1] or f[3] == '1' then return {0} end
local t = redis.call('GET', KEYS[2])
if not t then return {0} end
if t == '1' then
  redis.call('HSET', KEYS[1], 'rev', '1')
  return {2, f[1], f[2], f[4] or '', f[5] or '0', f[7] or '0'}
end
local ttl = redis.call('PTTL', KEYS[2])
redis.call('SET', KEYS[2], '1', 'KEEPTTL')
redis.call('SET', KEYS[3], '0', 'PXAT', ARGV[1])
redis.call('HSET', KEYS[1], 'ajti', ARGV[2], 'aexp', ARGV[3])
if tonumber(ARGV[1]) > tonumber(f[6] or '0') then
  redis.call('HSET', KEYS[1], 'exp', ARGV[1])
  redis.call('PEXPIREAT', KEYS[1], ARGV[1])
end
return {1, f[1], f[2], f[4] or '', f[5] or '0', f[7] or '0', ttl}`)

// Rotate implements [port.RefreshStore].
func (s *Refresh) Rotate(ctx context.Context, family string, hash []byte, next port.RefreshRecord) (port.RefreshRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CommandTimeout)
	defer cancel()
	now := time.Now()
	vs, err := rotateScript.Exec(ctx, s.client,
		[]string{s.familyKey(family), s.tokenKey(family, hash), s.tokenKey(family, next.Hash)},
		[]string{ms(next.ExpiresAt), next.AccessID, ms(next.AccessExpiresAt)}).ToArray()
	if err != nil {
		return port.RefreshRecord{}, fmt.Errorf("auth/redis: rotate refresh token: %w", err)
	}
	status, err := vs[0].AsInt64()
	if err != nil {
		return port.RefreshRecord{}, fmt.Errorf("auth/redis: rotate refresh token: %w", err)
	}
	if status == 0 {
		return port.RefreshRecord{}, fmt.Errorf("%w: unknown, expired or revoked", port.ErrInvalidRefresh)
	}
	if len(vs) < 6 {
		return port.RefreshRecord{}, fmt.Errorf("auth/redis: rotate refresh token: unexpected reply of %d elements", len(vs))
	}
	rec := port.RefreshRecord{Family: family}
	rec.Subject, _ = vs[1].ToString()
	data, _ := vs[2].ToString()
	rec.Data = []byte(data)
	rec.AccessID, _ = vs[3].ToString()
	aexp, _ := vs[4].AsInt64()
	rec.AccessExpiresAt = time.UnixMilli(aexp)
	if st, _ := vs[5].AsInt64(); st > 0 {
		rec.Started = time.Unix(0, st) // nanoseconds: compared with other times by Reload
	}
	if status == 2 {
		return rec, fmt.Errorf("%w: %w", port.ErrInvalidRefresh, port.ErrRefreshReused)
	}
	rec.Hash = append([]byte(nil), hash...)
	if len(vs) > 6 {
		ttl, _ := vs[6].AsInt64()
		rec.ExpiresAt = now.Add(time.Duration(ttl) * time.Millisecond)
	}
	return rec, nil
}

// revokeScript revokes the family KEYS[1] when it exists and, with a
// second key, when that token key exists too.
var revokeScript = rueidis.NewLuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'rev', '1')
return 1`)

// RevokeFamily implements [port.RefreshStore].
func (s *Refresh) RevokeFamily(ctx context.Context, family string, hash []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CommandTimeout)
	defer cancel()
	keys := []string{s.familyKey(family)}
	if hash != nil {
		keys = append(keys, s.tokenKey(family, hash))
	}
	if err := revokeScript.Exec(ctx, s.client, keys, nil).Error(); err != nil {
		return fmt.Errorf("auth/redis: revoke refresh family: %w", err)
	}
	return nil
}
