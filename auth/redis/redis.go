// Package redis is the Redis backend of the auth stores, on the process's
// rueidis client: revoked token IDs and subjects' "not before" times as
// keys that expire when no token they could refuse is left, and
// refresh-token families looked up and rotated by Lua scripts (the pair
// kept for the grace window in a key that expires with it), so that
// instances sharing a Redis share all of it.
//
// Revocation checks are cheap: Revoked reads the token's ID key and its
// subject's key in one round trip with rueidis client-side caching
// (DoMultiCache), so that Redis tracks both for this instance, and keeps
// the answers in process memory (redisconn.Local): every later check of
// the token is two map lookups. A write anywhere makes Redis invalidate
// those answers in every instance; a lost connection, a FLUSHALL or the
// shared client failing fast drops them all. The instance that wrote sees
// it at once, without waiting for the invalidation: it drops its own copy
// and, for redisconn.RecentWindow after a write, reads those keys from
// Redis directly. With client-side caching off (redis.client_cache_size
// 0), every check is a round trip of two GETs. A refresh costs two
// scripts (look up, rotate).
package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
	// LocalEntries bounds each of the two maps in which Revocations keeps
	// the answers of Revoked (by token ID and by subject) with
	// client-side caching on. Default [DefaultLocalEntries]; the auth
	// module passes auth.verify_cache_size.
	LocalEntries int
}

// DefaultLocalEntries is Config.LocalEntries's default.
const DefaultLocalEntries = 10_000

func (c Config) withDefaults() Config {
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = redisconn.DefaultCommandTimeout
	}
	if c.LocalEntries <= 0 {
		c.LocalEntries = DefaultLocalEntries
	}
	return c
}

// Revocations is an [port.Revocations] in Redis.
type Revocations struct {
	client rueidis.Client
	cfg    Config
	recent redisconn.RecentWrites // read-your-writes for the client-side cache
	// ids and subjects hold the answers read with client-side caching, by
	// token ID (true: revoked) and by subject (its "not before" in Unix
	// ms, 0: none), so that a check seen before is two map lookups; nil
	// on a client without client-side caching (see redisconn.Local).
	ids      *redisconn.Local[bool]
	subjects *redisconn.Local[int64]
}

var _ port.Revocations = (*Revocations)(nil)

// NewRevocations returns a store on client.
func NewRevocations(client rueidis.Client, cfg Config) (*Revocations, error) {
	if client == nil {
		return nil, errors.New("auth/redis: nil client")
	}
	cfg = cfg.withDefaults()
	return &Revocations{
		client: client, cfg: cfg,
		ids:      redisconn.NewLocal(client, redisconn.LocalConfig[bool]{Prefix: cfg.Prefix + idTag, MaxEntries: cfg.LocalEntries}),
		subjects: redisconn.NewLocal(client, redisconn.LocalConfig[int64]{Prefix: cfg.Prefix + subjectTag, MaxEntries: cfg.LocalEntries}),
	}, nil
}

// The keys of a token ID and of a subject: the prefix, the tag, the name.
const (
	idTag      = "rv:"
	subjectTag = "sb:"
)

func (r *Revocations) key(id string) string { return r.cfg.Prefix + idTag + id }

// Revoke implements [port.Revocations].
func (r *Revocations) Revoke(ctx context.Context, id string, until time.Time) error {
	if !until.After(time.Now()) {
		return ctx.Err()
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.CommandTimeout)
	defer cancel()
	err := r.client.Do(ctx, r.client.B().Set().Key(r.key(id)).Value("1").Pxat(until).Build()).Error()
	// Even on an error: the write may have happened. Recent first, so
	// that a check after Forget reads Redis and holds nothing.
	r.recent.Add(r.key(id))
	r.ids.Forget(id)
	if err != nil {
		return fmt.Errorf("auth/redis: SET: %w", err)
	}
	return nil
}

// subjectKey holds a subject's "not before", in Unix milliseconds.
func (r *Revocations) subjectKey(subject string) string { return r.cfg.Prefix + subjectTag + subject }

// revokeSubjectScript sets KEYS[1] to ARGV[1] (ms), expiring at ARGV[2]
// (ms), unless it holds a later time already.
var revokeSubjectScript = rueidis.NewLuaScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
end
return 1`)

// RevokeSubject implements [port.Revocations].
func (r *Revocations) RevokeSubject(ctx context.Context, subject string, before, until time.Time) error {
	if !until.After(time.Now()) {
		return ctx.Err()
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.CommandTimeout)
	defer cancel()
	err := revokeSubjectScript.Exec(ctx, r.client, []string{r.subjectKey(subject)}, []string{ms(before), ms(until)}).Error()
	r.recent.Add(r.subjectKey(subject)) // even on an error, and before Forget, as in Revoke
	r.subjects.Forget(subject)
	if err != nil {
		return fmt.Errorf("auth/redis: revoke subject: %w", err)
	}
	return nil
}

// Revoked implements [port.Revocations]: two map lookups for a token
// and subject checked before (see redisconn.Local), otherwise one round
// trip for both, answered from rueidis's client-side cache once seen.
func (r *Revocations) Revoked(ctx context.Context, p port.RevokedParams) (bool, error) {
	if err := ctx.Err(); err != nil { // local answers do not look at ctx
		return false, err
	}
	if p.ID == "" && p.Subject == "" {
		return false, nil
	}
	// Held locally: no write of this instance since (Forget drops a key
	// written here), nor of any other (Redis's invalidation drops it).
	idRevoked, idHeld := r.ids.Get(p.ID)
	before, subjectHeld := r.subjects.Get(p.Subject)
	if (idHeld || p.ID == "") && (subjectHeld || p.Subject == "") {
		return idRevoked || (before != 0 && p.IssuedAt.UnixMilli() < before), nil
	}
	return r.read(ctx, p)
}

// read answers Revoked from Redis (or rueidis's client-side cache), and
// keeps the answers of a tracked read locally.
func (r *Revocations) read(ctx context.Context, p port.RevokedParams) (bool, error) {
	idMark, subjectMark := r.ids.Mark(), r.subjects.Mark()
	var keys []string
	if p.ID != "" {
		keys = append(keys, r.key(p.ID))
	}
	if p.Subject != "" {
		keys = append(keys, r.subjectKey(p.Subject))
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.CommandTimeout)
	defer cancel()
	var resps []rueidis.RedisResult
	// This instance's own recent writes skip the client-side cache:
	// Redis's invalidation of it may trail the write. Such an untracked
	// read is not kept locally.
	tracked := !slices.ContainsFunc(keys, r.recent.Contains)
	if !tracked {
		cmds := make(rueidis.Commands, len(keys))
		for i, k := range keys {
			cmds[i] = r.client.B().Get().Key(k).Build()
		}
		resps = r.client.DoMulti(ctx, cmds...)
	} else {
		// Cache the answers locally until the token is refused anyway
		// (p.Until, as the port says); Redis invalidates them on a write
		// from any instance.
		ttl := max(time.Until(p.Until), time.Second)
		cmds := make([]rueidis.CacheableTTL, len(keys))
		for i, k := range keys {
			cmds[i] = rueidis.CT(r.client.B().Get().Key(k).Cache(), ttl)
		}
		resps = r.client.DoMultiCache(ctx, cmds...)
	}
	revoked := false
	for i, resp := range resps {
		v, err := resp.ToString()
		absent := rueidis.IsRedisNil(err)
		if err != nil && !absent {
			return false, fmt.Errorf("auth/redis: GET: %w", err)
		}
		if i == 0 && p.ID != "" {
			revoked = revoked || !absent
			if tracked {
				r.ids.Put(idMark, p.ID, !absent, 0)
			}
			continue
		}
		var before int64
		if !absent {
			if before, err = strconv.ParseInt(v, 10, 64); err != nil {
				return false, fmt.Errorf("auth/redis: subject %q: not before %q: %w", p.Subject, v, err)
			}
		}
		if tracked {
			r.subjects.Put(subjectMark, p.Subject, before, 0)
		}
		revoked = revoked || (before != 0 && p.IssuedAt.UnixMilli() < before)
	}
	return revoked, nil
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

// graceKey holds, for the grace window after the token hash was spent,
// what a replay of it gets back.
func (s *Refresh) graceKey(f string, hash []byte) string { return s.tokenKey(f, hash) + ":g" }

// lookupScript returns {0} for an unknown, expired or revoked token and
// {1, subject, data, start, the token's remaining ms} otherwise.
var lookupScript = rueidis.NewLuaScript(`
local f = redis.call('HMGET', KEYS[1], 'sub', 'data', 'rev', 'st')
if not f[1] or f[3] == '1' then return {0} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {0} end
return {1, f[1], f[2], f[4] or '0', redis.call('PTTL', KEYS[2])}`)

// Lookup implements [port.RefreshStore].
func (s *Refresh) Lookup(ctx context.Context, family string, hash []byte) (port.RefreshRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CommandTimeout)
	defer cancel()
	now := time.Now()
	vs, err := lookupScript.Exec(ctx, s.client, []string{s.familyKey(family), s.tokenKey(family, hash)}, nil).ToArray()
	if err != nil {
		return port.RefreshRecord{}, fmt.Errorf("auth/redis: look up refresh token: %w", err)
	}
	if status, _ := vs[0].AsInt64(); status != 1 || len(vs) < 5 {
		return port.RefreshRecord{}, fmt.Errorf("%w: unknown, expired or revoked", port.ErrInvalidRefresh)
	}
	rec := port.RefreshRecord{Family: family, Hash: append([]byte(nil), hash...)}
	rec.Subject, _ = vs[1].ToString()
	data, _ := vs[2].ToString()
	rec.Data = []byte(data)
	if st, _ := vs[3].AsInt64(); st > 0 {
		rec.Started = time.Unix(0, st)
	}
	ttl, _ := vs[4].AsInt64()
	rec.ExpiresAt = now.Add(time.Duration(ttl) * time.Millisecond)
	return rec, nil
}

// rotateScript returns {0} for an invalid token, {2, family fields} for a
// reused one (after revoking the family), {3, family fields, sealed} for
// a replay within the grace window and {1, family fields, the old token's
// remaining ms} on success. The family fields are subject, data, last
// access jti and expiry, start. KEYS: family, token, next token, the
// token's grace key; ARGV: next expiry, next access jti and expiry (ms),
// sealed, grace (ms).
var rotateScript = rueidis.NewLuaScript(`
local f = redis.call('HMGET', KEYS[1], 'sub', 'data', 'rev', 'ajti', 'aexp', 'exp', 'st')
if not f[1] or f[3] == '1' then return {0} end
local t = redis.call('GET', KEYS[2])
if not t then return {0} end
if t == '1' then
  local g = redis.call('GET', KEYS[4])
  if g then return {3, f[1], f[2], f[4] or '', f[5] or '0', f[7] or '0', g} end
  redis.call('HSET', KEYS[1], 'rev', '1')
  return {2, f[1], f[2], f[4] or '', f[5] or '0', f[7] or '0'}
end
local ttl = redis.call('PTTL', KEYS[2])
redis.call('SET', KEYS[2], '1', 'KEEPTTL')
redis.call('SET', KEYS[3], '0', 'PXAT', ARGV[1])
if ARGV[4] ~= '' and tonumber(ARGV[5]) > 0 then
  redis.call('SET', KEYS[4], ARGV[4], 'PX', ARGV[5])
end
redis.call('HSET', KEYS[1], 'ajti', ARGV[2], 'aexp', ARGV[3])
if tonumber(ARGV[1]) > tonumber(f[6] or '0') then
  redis.call('HSET', KEYS[1], 'exp', ARGV[1])
  redis.call('PEXPIREAT', KEYS[1], ARGV[1])
end
return {1, f[1], f[2], f[4] or '', f[5] or '0', f[7] or '0', ttl}`)

// Rotate implements [port.RefreshStore].
func (s *Refresh) Rotate(ctx context.Context, p port.RotateParams) (port.RefreshRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CommandTimeout)
	defer cancel()
	now := time.Now()
	next := p.Next
	vs, err := rotateScript.Exec(ctx, s.client,
		[]string{s.familyKey(p.Family), s.tokenKey(p.Family, p.Hash), s.tokenKey(p.Family, next.Hash), s.graceKey(p.Family, p.Hash)},
		[]string{ms(next.ExpiresAt), next.AccessID, ms(next.AccessExpiresAt), rueidis.BinaryString(p.Sealed), strconv.FormatInt(p.Grace.Milliseconds(), 10)}).ToArray()
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
	rec := port.RefreshRecord{Family: p.Family}
	rec.Subject, _ = vs[1].ToString()
	data, _ := vs[2].ToString()
	rec.Data = []byte(data)
	rec.AccessID, _ = vs[3].ToString()
	aexp, _ := vs[4].AsInt64()
	rec.AccessExpiresAt = time.UnixMilli(aexp)
	if st, _ := vs[5].AsInt64(); st > 0 {
		rec.Started = time.Unix(0, st) // nanoseconds: compared with other times by Reload
	}
	switch {
	case status == 2:
		return rec, fmt.Errorf("%w: %w", port.ErrInvalidRefresh, port.ErrRefreshReused)
	case status == 3 && len(vs) > 6:
		sealed, _ := vs[6].ToString()
		rec.Sealed = []byte(sealed)
	case len(vs) > 6:
		ttl, _ := vs[6].AsInt64()
		rec.ExpiresAt = now.Add(time.Duration(ttl) * time.Millisecond)
	}
	rec.Hash = append([]byte(nil), p.Hash...)
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
