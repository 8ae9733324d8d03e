--[[
  redbeat-meta: writes back what RedBeat's own beat writes after it sends a run
  (redbeat/schedulers.py RedBeatSchedulerEntry._next_instance): the entry's `meta`
  {"last_run_at": <datetime>, "total_run_count": <count + 1>} and its next due time in the
  schedule zset, so that RedBeat's tools and Python code reading its keys see the runs tsbeat made.

  KEYS[1]      RedBeat's schedule zset (<prefix>:schedule)
  KEYS[2..N+1] the entries' hashes (<prefix><name>)
  ARGV[2i-1]   entry i's last_run_at, RedBeat's typed JSON text of a datetime (ARGV[1] the first's)
  ARGV[2i]     entry i's score: its next due time in epoch seconds, or -1 when it has no more runs

  Reply   the number of entries written.
  Errors  WRONGTYPE naming the key when the schedule key holds another type, before any write.
  Writes  per entry still in RedBeat (its hash has a definition and the zset has its member):
          HSET meta, ZADD score. An entry Python deleted meanwhile is left deleted, not recreated.
          A meta that is not JSON counts from 0.
]]
--- @include "key-type"

local refused = wrongType('redbeat-meta', KEYS[1], 'zset')
if refused then return refused end
local written = 0
for i = 2, #KEYS do
  local key = KEYS[i]
  local lastRun = ARGV[2 * (i - 1) - 1]
  local score = ARGV[2 * (i - 1)]
  if redis.call('ZSCORE', KEYS[1], key) and redis.call('TYPE', key).ok == 'hash' and redis.call('HEXISTS', key, 'definition') == 1 then
    local count = 0
    local meta = redis.call('HGET', key, 'meta')
    if meta then
      local ok, decoded = pcall(cjson.decode, meta)
      if ok and type(decoded) == 'table' and type(decoded.total_run_count) == 'number' then count = decoded.total_run_count end
    end
    redis.call('HSET', key, 'meta', '{"last_run_at": ' .. lastRun .. ', "total_run_count": ' .. string.format('%d', count + 1) .. '}')
    redis.call('ZADD', KEYS[1], score, key)
    written = written + 1
  end
end
return written
