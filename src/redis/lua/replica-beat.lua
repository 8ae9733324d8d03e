--[[
  replica-beat: the replicas registry (src/redis/replica-registry.ts). Every `beat run` process,
  leader or standby, writes its record at each heartbeat and removes it when it stops cleanly; a
  replica that dies without stopping is removed by the next heartbeat of another once its expiry has
  passed (readers leave it out from that instant: replica-codec.ts). The record is JSON built by
  replica-codec.ts; this script stores it and never reads inside it. Expiries are by this server's
  clock (TIME), never the caller's: a replica whose clock is ahead would otherwise remove the
  others' fresh records at each heartbeat (and one behind keep dead ones).

  KEYS[1]   replicas hash: instance id → record JSON
  KEYS[2]   replicas:expiry zset: instance id → when its record stops counting, epoch ms by TIME

  ARGV[1]   operation: "beat" or "leave"
  beat:     ARGV[2] instance id, ARGV[3] record JSON, ARGV[4] how long the record counts (ms, > 0).
            With now = TIME in ms: removes every record whose expiry is at or before now, then
            writes this one with its expiry at now + ARGV[4]. Both keys expire at the latest expiry
            they hold, so that a deployment whose replicas all died leaves nothing behind.
            Reply: how many records past their expiry were removed.
  leave:    ARGV[2] instance id. Reply: 1 if its record was there, 0 if not.

  Errors  WRONGTYPE naming the key when a key holds another type; ERR on a duration that is not a
          number > 0 or an unknown operation. All before anything is written.
  Writes  HSET/HDEL of the hash, ZADD/ZREM/ZREMRANGEBYSCORE of the zset, PEXPIRE of both.
]]
--- @include "key-type"

local SCRIPT = 'replica-beat'
local refused = wrongType(SCRIPT, KEYS[1], 'hash') or wrongType(SCRIPT, KEYS[2], 'zset')
if refused then return refused end
local op = ARGV[1]

if op == 'beat' then
  local ttl = tonumber(ARGV[4])
  if not ttl or ttl <= 0 then return redis.error_reply('ERR ' .. SCRIPT .. ': beat takes an instance, a record and a duration > 0') end
  -- Before Redis 5 a script that reads TIME may write only under effects replication, which this
  -- turns on (the default from Redis 5, the only mode from 7, where the call does nothing).
  redis.replicate_commands()
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
  for _, instance in ipairs(gone) do
    redis.call('HDEL', KEYS[1], instance)
  end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[2])
  local last = tonumber(redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')[2])
  local keep = math.max(1, math.ceil(last - now))
  redis.call('PEXPIRE', KEYS[1], keep)
  redis.call('PEXPIRE', KEYS[2], keep)
  return #gone
elseif op == 'leave' then
  local was = redis.call('HDEL', KEYS[1], ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return was
end
return redis.error_reply('ERR ' .. SCRIPT .. ': unknown operation ' .. tostring(op))
