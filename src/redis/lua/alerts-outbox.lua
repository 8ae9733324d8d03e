--[[
  alerts-outbox: the alert outbox's changes (ports/alerts.ts), each atomic. The deliveries are JSON
  text built by src/redis/alert-outbox.ts; this script stores them and never reads inside them.

  KEYS[1]   alerts:items hash: id → delivery JSON
  KEYS[2]   alerts:due zset: id → when to (re)try it, epoch ms
  KEYS[3]   alerts:sent zset: id → when it was settled, epoch ms

  ARGV[1]   operation: "enqueue", "claim", "settle", "retry" or "peek"
  ARGV[2]   now, epoch ms
  enqueue:  ARGV[3] how long a settled id is remembered (ms); then pairs (id, delivery JSON).
            Reply: how many were new. An id pending or settled within the retention is skipped.
  claim:    ARGV[3] the most to take, ARGV[4] for how long (ms). Reply: {the deliveries' JSON, each
            due at or before now, its due time pushed to now + ARGV[4]; when the first pending one
            is then due (epoch ms, as text) or false}: a sender that took none rests until then
            without a second call.
  settle:   ARGV[3] id. Reply 1 if it was pending, 0 if not. It is remembered as settled.
  retry:    ARGV[3] id, ARGV[4] when (epoch ms), ARGV[5] the delivery JSON with its attempts
            counted. Reply 1, or 0 (nothing written) if it is no longer pending.
  peek:     Reply {how many are pending, when the first is due (epoch ms, as text) or false}.
            Writes nothing; its type checks name a damaged key to whoever reads (beat status).

  Errors  WRONGTYPE naming the key when a key holds another type; ERR on an unknown operation or a
          number that is not one. All before anything is written.
  Writes  HSET/HDEL of items; ZADD/ZREM of due; ZADD of sent and ZREMRANGEBYSCORE of its old ids
          (peek: none).
]]
--- @include "key-type"

local SCRIPT = 'alerts-outbox'
local refused = wrongType(SCRIPT, KEYS[1], 'hash') or wrongType(SCRIPT, KEYS[2], 'zset') or wrongType(SCRIPT, KEYS[3], 'zset')
if refused then return refused end
local op = ARGV[1]
local now = tonumber(ARGV[2])
if not now then return redis.error_reply('ERR ' .. SCRIPT .. ': now is not a number') end

if op == 'enqueue' then
  local retention = tonumber(ARGV[3])
  if not retention or (#ARGV - 3) % 2 ~= 0 then
    return redis.error_reply('ERR ' .. SCRIPT .. ': enqueue takes a retention and (id, delivery) pairs')
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - retention)
  local added = 0
  for i = 4, #ARGV, 2 do
    local id = ARGV[i]
    if redis.call('HEXISTS', KEYS[1], id) == 0 and not redis.call('ZSCORE', KEYS[3], id) then
      redis.call('HSET', KEYS[1], id, ARGV[i + 1])
      redis.call('ZADD', KEYS[2], now, id)
      added = added + 1
    end
  end
  return added
elseif op == 'claim' then
  local most, hold = tonumber(ARGV[3]), tonumber(ARGV[4])
  if not most or not hold then return redis.error_reply('ERR ' .. SCRIPT .. ': claim takes a count and a duration') end
  local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, most)
  local out = {}
  for _, id in ipairs(ids) do
    local json = redis.call('HGET', KEYS[1], id)
    if json then
      redis.call('ZADD', KEYS[2], now + hold, id)
      out[#out + 1] = json
    else
      redis.call('ZREM', KEYS[2], id)
    end
  end
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {out, first[2] or false}
elseif op == 'settle' then
  local id = ARGV[3]
  local was = redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZADD', KEYS[3], now, id)
  return was
elseif op == 'peek' then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {redis.call('ZCARD', KEYS[2]), first[2] or false}
elseif op == 'retry' then
  local at = tonumber(ARGV[4])
  if not at then return redis.error_reply('ERR ' .. SCRIPT .. ': retry takes a time') end
  if redis.call('HEXISTS', KEYS[1], ARGV[3]) == 0 then return 0 end
  redis.call('HSET', KEYS[1], ARGV[3], ARGV[5])
  redis.call('ZADD', KEYS[2], at, ARGV[3])
  return 1
end
return redis.error_reply('ERR ' .. SCRIPT .. ': unknown operation ' .. tostring(op))
