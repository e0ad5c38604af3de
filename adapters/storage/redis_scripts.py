"""The Lua scripts of the Redis backend: each is one atomic step on the server.

Redis runs a script alone, start to end, so whatever a script checks still holds when it writes:
that is what makes seq allocation, resend dedupe, token-free leases and trimming safe with many
broker nodes on one Redis, without locks. Numbers stay below 2**53 (Lua numbers are doubles) and
are written with ``%d`` so they never turn into ``1e+15``; idempotency counters, which may be any
size, are compared as decimal strings.
"""

from __future__ import annotations

APPEND = r"""
-- KEYS: batch result, set of developers with logs, then per developer: log stream, meta hash,
--       idempotency-key hash.
-- ARGV: result ttl ms, developer count, developer ids..., floors..., the channel to tell of the
--       append, the most bytes of payloads to publish, then 10 per payload: developer index, seq
--       ('' = allocate), uid, t, d (JSON), synthetic, key field, key source, counter, and the
--       payload as published without its seq (the JSON of [uid, t, d, synthetic, key source,
--       counter] after its '[', made by the client: cheaper there than in Lua).
-- Returns the seqs, in order; 0 for a resend that was not stored. Re-running the same batch id
-- (a retry after a lost reply) returns the first run's answer and stores nothing again.
-- Publishes on the channel, as JSON, one [developer id, last seq, payloads] per developer it
-- stored for; payloads are [seq, uid, t, d, synthetic, key source, counter] each, or null for the
-- developers past the byte limit (a follower reads those from the log).
local cached = redis.call('GET', KEYS[1])
if cached then
  local seqs = {}
  for seq in string.gmatch(cached, '%d+') do seqs[#seqs + 1] = tonumber(seq) end
  return seqs
end
local function above(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
local ndev = tonumber(ARGV[2])
local last = {}
for i = 1, ndev do
  local stored = tonumber(redis.call('HGET', KEYS[3 * i + 1], 'last') or '0')
  last[i] = math.max(stored, tonumber(ARGV[2 + ndev + i]))
end
local channel = ARGV[3 + 2 * ndev]
local room = tonumber(ARGV[4 + 2 * ndev])
local base = 5 + 2 * ndev
local count = (#ARGV - base + 1) / 10
-- Explicit seqs are checked before anything is written: a bad batch is refused whole.
local check = {}
for i = 1, ndev do check[i] = last[i] end
for j = 0, count - 1 do
  local o = base + 10 * j
  local dev = tonumber(ARGV[o])
  if ARGV[o + 1] ~= '' then
    local seq = tonumber(ARGV[o + 1])
    if seq <= check[dev] then
      return redis.error_reply(string.format(
        'WEARSTREAM payload %d of the batch (developer %s): seq %d is not after %d', j,
        ARGV[2 + dev], seq, check[dev]))
    end
    check[dev] = seq
  end
end
local t = redis.call('TIME')
local at = string.format('%d', t[1] * 1000 + math.floor(t[2] / 1000))
local seqs = {}
local touched = {}
local published = {}
for j = 0, count - 1 do
  local o = base + 10 * j
  local dev = tonumber(ARGV[o])
  local field, source, counter = ARGV[o + 6], ARGV[o + 7], ARGV[o + 8]
  local fresh = true
  if field ~= '' then
    local previous = redis.call('HGET', KEYS[3 * dev + 2], field)
    if previous and not above(counter, previous) then
      fresh = ARGV[o + 1] ~= ''
    else
      redis.call('HSET', KEYS[3 * dev + 2], field, counter)
    end
  end
  if fresh then
    if ARGV[o + 1] ~= '' then last[dev] = tonumber(ARGV[o + 1]) else last[dev] = last[dev] + 1 end
    local entry = {'uid', ARGV[o + 2], 't', ARGV[o + 3], 'd', ARGV[o + 4], 'at', at}
    if ARGV[o + 5] == '1' then entry[#entry + 1] = 's'; entry[#entry + 1] = '1' end
    if field ~= '' then
      entry[#entry + 1] = 'ks'; entry[#entry + 1] = source
      entry[#entry + 1] = 'kc'; entry[#entry + 1] = counter
    end
    redis.call('XADD', KEYS[3 * dev + 0], string.format('%d-0', last[dev]), unpack(entry))
    seqs[#seqs + 1] = last[dev]
    touched[dev] = true
    if published[dev] == nil then published[dev] = {} end
    if published[dev] then
      local item = '[' .. string.format('%d', last[dev]) .. ',' .. ARGV[o + 9]
      room = room - #item
      if room < 0 then published[dev] = false else table.insert(published[dev], item) end
    end
  else
    seqs[#seqs + 1] = 0
  end
end
local told = {}
for dev, _ in pairs(touched) do
  redis.call('HSET', KEYS[3 * dev + 1], 'last', string.format('%d', last[dev]))
  redis.call('SADD', KEYS[2], ARGV[2 + dev])
  local items = 'null'
  if published[dev] then items = '[' .. table.concat(published[dev], ',') .. ']' end
  told[#told + 1] = '[' .. cjson.encode(ARGV[2 + dev]) .. ',' .. string.format('%d', last[dev]) .. ',' .. items .. ']'
end
if #told > 0 then redis.call('PUBLISH', channel, '[' .. table.concat(told, ',') .. ']') end
local text = {}
for i, seq in ipairs(seqs) do text[i] = string.format('%d', seq) end
redis.call('SET', KEYS[1], table.concat(text, ','), 'PX', ARGV[1])
return seqs
"""

TRIM = r"""
-- KEYS: log stream, meta hash. ARGV: 'MAXLEN' or 'MINID', threshold.
-- Trims and records in meta.trimmed the highest seq that retention has removed.
local removed = redis.call('XTRIM', KEYS[1], ARGV[1], ARGV[2])
if removed > 0 then
  local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
  local upto
  if #first > 0 then
    upto = tonumber(string.match(first[1][1], '^(%d+)')) - 1
  else
    upto = tonumber(redis.call('HGET', KEYS[2], 'last') or '0')
  end
  if upto > tonumber(redis.call('HGET', KEYS[2], 'trimmed') or '0') then
    redis.call('HSET', KEYS[2], 'trimmed', string.format('%d', upto))
  end
end
return removed
"""

ADD_DEVELOPER = r"""
-- KEYS: developer hash, set of developer ids. ARGV: id, then field/value pairs.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

REVOKE_DEVELOPER = r"""
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'revoked', '1')
return 1
"""

REVOKED_AMONG = r"""
-- KEYS: developer hashes. Returns, in order, 1 for each revoked developer, else 0.
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HGET', key, 'revoked') == '1' and 1 or 0
end
return out
"""

ACQUIRE_LEASE = r"""
-- KEYS: the developer's lease set (holder -> expiry ms). ARGV: holder, cap, ttl ms.
-- Expired leases (a node that died) are dropped first; the server's clock decides, so the
-- nodes' clocks need not agree.
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"""

RENEW_LEASES = r"""
-- KEYS: lease sets; ARGV: ttl ms, then one holder per key. A lease lost with a restarted Redis
-- is put back: its consumer is still connected.
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + tonumber(ARGV[1]), ARGV[i + 1])
  redis.call('PEXPIRE', key, ARGV[1])
end
return #KEYS
"""
