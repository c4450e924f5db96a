package redisstream

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/redis/rueidis"
)

// script is a Lua script run by EVALSHA, falling back to EVAL (which
// caches it) on a server that does not know it yet: one round trip for
// a batch, where rueidis's Lua.ExecMulti first sends SCRIPT LOAD to every
// node on every call.
type script struct {
	src, sha string
}

func newScript(src string) *script {
	h := sha1.Sum([]byte(src)) //nolint:gosec // the script cache's key, not security
	return &script{src: src, sha: hex.EncodeToString(h[:])}
}

// Exec runs the script once.
func (s *script) Exec(ctx context.Context, c rueidis.Client, keys, args []string) rueidis.RedisResult {
	return s.ExecMulti(ctx, c, rueidis.LuaExec{Keys: keys, Args: args})[0]
}

// ExecMulti runs the script once per exec, pipelined.
func (s *script) ExecMulti(ctx context.Context, c rueidis.Client, execs ...rueidis.LuaExec) []rueidis.RedisResult {
	cmds := make(rueidis.Commands, len(execs))
	for i, e := range execs {
		cmds[i] = c.B().Evalsha().Sha1(s.sha).Numkeys(int64(len(e.Keys))).Key(e.Keys...).Arg(e.Args...).Build()
	}
	res := c.DoMulti(ctx, cmds...)
	for i, r := range res {
		if err, ok := rueidis.IsRedisErr(r.Error()); ok && err.IsNoScript() {
			e := execs[i] // the script did not run: running it now is safe
			res[i] = c.Do(ctx, c.B().Eval().Script(s.src).Numkeys(int64(len(e.Keys))).Key(e.Keys...).Arg(e.Args...).Build())
		}
	}
	return res
}

// batchScript runs a one-job script body for many jobs of one queue in
// one EVALSHA: the body sees its own job's KEYS and ARGV (it runs as a
// function of them), so a batch costs Redis one script call and one reply
// instead of one per job. The jobs of a call must be of one hash slot
// (one queue); each is run in order, as the pipelined calls were. Each
// job runs under pcall: a runtime error (a corrupt job hash, a key of
// the wrong type) is that job's error reply in the batch's array and the
// other jobs run as if it were alone, so a batch never fails half
// written. The bodies check what they read before they write, so a job
// that fails has written nothing.
type batchScript struct {
	*script
	keysPer int
}

// batchJobs bounds the jobs per call, so that one call does not hold
// Redis for long; a larger batch is several calls in one pipeline.
const batchJobs = 100

func newBatchScript(body string, keysPer int) *batchScript {
	return &batchScript{keysPer: keysPer, script: newScript(`local acks = {}
-- ack acknowledges and deletes a stream entry once the batch ran: one
-- XACK and one XDEL per stream instead of per job.
local function ack(stream, group, id)
  local a = acks[stream]
  if not a then
    a = {}
    acks[stream] = {group, a}
  else
    a = a[2]
  end
  a[#a + 1] = id
end
local function one(KEYS, ARGV)
` + body + `
end
local out, ki, ai = {}, 0, 1
while ai <= #ARGV do
  local na = tonumber(ARGV[ai])
  local k, a = {}, {}
  for j = 1, ` + strconv.Itoa(keysPer) + ` do k[j] = KEYS[ki + j] end
  for j = 1, na do a[j] = ARGV[ai + j] end
  local ok, r = pcall(one, k, a)
  if not ok then
    if type(r) == 'table' and r.err then r = r.err end
    r = {err = 'ERR job ' .. (a[1] or '?') .. ': ' .. tostring(r)}
  end
  out[#out + 1] = r
  ki, ai = ki + ` + strconv.Itoa(keysPer) + `, ai + na + 1
end
for stream, a in pairs(acks) do
  redis.call('XACK', stream, a[1], unpack(a[2]))
  redis.call('XDEL', stream, unpack(a[2]))
end
return out
`)}
}

// batchResult is one job's reply within a batch, or the batch's error.
type batchResult struct {
	msg rueidis.RedisMessage
	err error
}

func (r batchResult) Error() error {
	if r.err != nil {
		return r.err
	}
	return r.msg.Error()
}

func (r batchResult) ToArray() ([]rueidis.RedisMessage, error) {
	if r.err != nil {
		return nil, r.err
	}
	return r.msg.ToArray()
}

func (r batchResult) AsInt64() (int64, error) {
	if r.err != nil {
		return 0, r.err
	}
	return r.msg.AsInt64()
}

// Exec runs the body once per exec (each with keysPer keys), in calls of
// up to batchJobs jobs, all pipelined; execs must be of one hash slot.
func (s *batchScript) Exec(ctx context.Context, c rueidis.Client, execs []rueidis.LuaExec) []batchResult {
	var calls []rueidis.LuaExec
	for i := 0; i < len(execs); i += batchJobs {
		part := execs[i:min(i+batchJobs, len(execs))]
		nk, na := 0, 0
		for _, e := range part {
			nk += len(e.Keys)
			na += 1 + len(e.Args)
		}
		call := rueidis.LuaExec{Keys: make([]string, 0, nk), Args: make([]string, 0, na)}
		for _, e := range part {
			call.Keys = append(call.Keys, e.Keys...)
			call.Args = append(append(call.Args, strconv.Itoa(len(e.Args))), e.Args...)
		}
		calls = append(calls, call)
	}
	out := make([]batchResult, len(execs))
	for ci, r := range s.ExecMulti(ctx, c, calls...) {
		lo, hi := ci*batchJobs, min((ci+1)*batchJobs, len(execs))
		arr, err := r.ToArray()
		if err == nil && len(arr) != hi-lo {
			err = fmt.Errorf("redisstream: a batch of %d jobs gave %d replies", hi-lo, len(arr))
		}
		for i := lo; i < hi; i++ {
			if err != nil {
				out[i].err = err
			} else {
				out[i].msg = arr[i-lo]
			}
		}
	}
	return out
}

// Every script touches only the keys it declares, all of one queue and so
// of one hash slot: they run unchanged on Redis Cluster.

// enqueueScript stores a job unless its ID or unique key is taken.
// KEYS: job, stream of its priority, delayed, unique (or job again)
// ARGV: id, has unique ("1"/""), unique ms, run-at ms, now ms, delayed member, field pairs...
var enqueueScript = newBatchScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, ARGV[1]} end
if ARGV[2] == '1' then
  local cur = redis.call('GET', KEYS[4])
  if cur then return {0, cur} end
  redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[3])
end
local state = 'pending'
if tonumber(ARGV[4]) > tonumber(ARGV[5]) then state = 'scheduled' end
redis.call('HSET', KEYS[1], 'state', state, unpack(ARGV, 7))
if state == 'scheduled' then
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[6])
else
  redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])
end
return {1, ARGV[1]}
`, 4)

// moveScript moves due delayed jobs to their streams, atomically: with
// several movers each job is moved once. It returns the next due score
// (or -1).
// KEYS: delayed, stream low, stream normal, stream high
// ARGV: now ms, limit
var moveScript = newScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, m in ipairs(due) do
  if redis.call('ZREM', KEYS[1], m) == 1 then
    local p = tonumber(string.sub(m, 1, 1))
    redis.call('XADD', KEYS[1 + p], '*', 'id', string.sub(m, 3))
  end
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #nxt == 0 then return -1 end
return tonumber(nxt[2])
`)

// startScript turns a delivered stream entry into an attempt: it returns
// {"run", attempt, fields...}, or {"skip"} for a job that is gone or
// finished (the entry is acknowledged), {"released"} for a kind the
// worker does not handle (put back after a delay, not an attempt), or
// {"dead", unique} for a job delivered more than its max attempts.
// KEYS: job, stream, delayed, dead
// ARGV: entry, group, kinds (",a,b," or ""), now ms, release ms, id, dead retention ms
var startScript = newBatchScript(`
local function acked() ack(KEYS[2], ARGV[2], ARGV[1]) end
local h = redis.call('HGETALL', KEYS[1])
local st, kind, prio, max, att, err, uk
for i = 1, #h, 2 do
  local f = h[i]
  if f == 'state' then st = h[i + 1]
  elseif f == 'kind' then kind = h[i + 1]
  elseif f == 'prio' then prio = h[i + 1]
  elseif f == 'max' then max = h[i + 1]
  elseif f == 'att' then att = h[i + 1]
  elseif f == 'err' then err = h[i + 1]
  elseif f == 'uk' then uk = h[i + 1]
  end
end
if not st or st == 'succeeded' or st == 'failed' or st == 'dead' or st == 'canceled' then
  acked()
  return {'skip'}
end
if not kind or not tonumber(prio) or not tonumber(max) or (att and not tonumber(att)) then
  return redis.error_reply('corrupt job record ' .. ARGV[6] .. ': kind, prio, max or att missing or not a number')
end
if ARGV[3] ~= '' and not string.find(ARGV[3], ',' .. kind .. ',', 1, true) then
  redis.call('ZADD', KEYS[3], tonumber(ARGV[4]) + tonumber(ARGV[5]), prio .. '|' .. ARGV[6])
  acked()
  return {'released'}
end
att = tonumber(att or '0') + 1
if tonumber(max) > 0 and att > tonumber(max) then
  if not err or err == '' then err = 'attempts exhausted: the worker was lost' end
  redis.call('HSET', KEYS[1], 'state', 'dead', 'err', err, 'fin', ARGV[4], 'upd', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[7])
  redis.call('ZADD', KEYS[4], ARGV[4], ARGV[6])
  acked()
  return {'dead', uk or ''}
end
redis.call('HSET', KEYS[1], 'state', 'running', 'att', att, 'start', ARGV[4], 'upd', ARGV[4])
-- The record as it was read: the message fields the worker needs did
-- not change (state, att, start and upd did, and are not read back).
return {'run', tostring(att), h}
`, 4)

// settleScript ends an attempt: only the attempt that holds the job
// (state running, same attempt number) changes it; a canceled job is
// acknowledged and stays canceled.
// KEYS: job, stream, delayed, dead, unique (or job again), stream to requeue on (abandon)
// ARGV: entry, group, outcome, now ms, error, result, run-at ms, delayed member, status ttl ms, dead retention ms, id, attempt
var settleScript = newBatchScript(`
local function acked() ack(KEYS[2], ARGV[2], ARGV[1]) end
local function unhold()
  if KEYS[5] ~= KEYS[1] and redis.call('GET', KEYS[5]) == ARGV[11] then redis.call('DEL', KEYS[5]) end
end
local st, att = unpack(redis.call('HMGET', KEYS[1], 'state', 'att'))
if not st or st == 'canceled' then
  acked()
  return 0
end
if st ~= 'running' or att ~= ARGV[12] then return 0 end
local o, now = ARGV[3], ARGV[4]
if o == 'succeed' then
  redis.call('HSET', KEYS[1], 'state', 'succeeded', 'res', ARGV[6], 'fin', now, 'upd', now)
  redis.call('PEXPIRE', KEYS[1], ARGV[9])
  unhold()
elseif o == 'retry' then
  redis.call('HSET', KEYS[1], 'state', 'retrying', 'err', ARGV[5], 'runat', ARGV[7], 'upd', now)
  redis.call('ZADD', KEYS[3], ARGV[7], ARGV[8])
elseif o == 'fail' or o == 'bury' then
  local s = 'dead'
  if o == 'fail' then s = 'failed' end
  redis.call('HSET', KEYS[1], 'state', s, 'err', ARGV[5], 'fin', now, 'upd', now)
  redis.call('PEXPIRE', KEYS[1], ARGV[10])
  redis.call('ZADD', KEYS[4], now, ARGV[11])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', tonumber(now) - tonumber(ARGV[10]))
  unhold()
elseif o == 'abandon' then
  local back = 'pending'
  if tonumber(att) > 1 then back = 'retrying' end
  redis.call('HSET', KEYS[1], 'state', back, 'att', tonumber(att) - 1, 'upd', now)
  redis.call('XADD', KEYS[6], '*', 'id', ARGV[11])
end
acked()
return 1
`, 6)

// heartbeatScript resets the idle time of the entries this consumer still
// owns, and returns those it no longer owns.
// KEYS: stream; ARGV: group, consumer, entries...
var heartbeatScript = newScript(`
local lost = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #p == 1 and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
`)

// cancelScript cancels a live job; it returns {"ok", unique}, {"nf"} or {"fin"}.
// KEYS: job, delayed; ARGV: now ms, status ttl ms, id
var cancelScript = newScript(`
local st, prio, uk = unpack(redis.call('HMGET', KEYS[1], 'state', 'prio', 'uk'))
if not st then return {'nf'} end
if st == 'succeeded' or st == 'failed' or st == 'dead' or st == 'canceled' then return {'fin'} end
if st == 'scheduled' or st == 'retrying' then redis.call('ZREM', KEYS[2], prio .. '|' .. ARGV[3]) end
redis.call('HSET', KEYS[1], 'state', 'canceled', 'fin', ARGV[1], 'upd', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {'ok', uk or ''}
`)

// unholdScript releases a unique key still held by the job.
// KEYS: unique; ARGV: id
var unholdScript = newScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// progressScript records progress of a job that exists.
// KEYS: job; ARGV: percent, message, now ms
var progressScript = newScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'prog', ARGV[1], 'msg', ARGV[2], 'upd', ARGV[3])
return 1
`)

// replayScript puts a dead job back as a new pending job.
// KEYS: job, dead, stream low, stream normal, stream high; ARGV: id, now ms
var replayScript = newScript(`
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 0 end
local prio = redis.call('HGET', KEYS[1], 'prio')
if not prio then return 0 end
redis.call('HSET', KEYS[1], 'state', 'pending', 'att', 0, 'fin', '', 'upd', ARGV[2], 'runat', '')
redis.call('PERSIST', KEYS[1])
redis.call('XADD', KEYS[2 + tonumber(prio)], '*', 'id', ARGV[1])
return 1
`)

// purgeScript deletes a dead job.
// KEYS: job, dead; ARGV: id
var purgeScript = newScript(`
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('DEL', KEYS[1])
return 1
`)
