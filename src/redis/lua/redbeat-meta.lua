--[[
  redbeat-meta: writes back what RedBeat's own beat writes after it sends a run
  (redbeat/schedulers.py RedBeatSchedulerEntry._next_instance): the entry's `meta`
  {"last_run_at": <datetime>, "total_run_count": <count>} and its next due time in the
  schedule zset, so that RedBeat's tools and Python code reading its keys see the runs tsbeat made.
  The values are absolute (tsbeat's stored state of the entry: its last run and run count), not
  increments, so that writing them twice, or again after a write that failed, is harmless.

  KEYS[1]      RedBeat's schedule zset (<prefix>:schedule)
  KEYS[2..N+1] the entries' hashes (<prefix><name>)
  ARGV[1]      the hash field of tsbeat's incarnation marker (src/redbeat/keys.ts REDBEAT_INCARNATION_FIELD)
  then per entry i, four values from ARGV[4i-2]:
    last_run_at  RedBeat's typed JSON text of a datetime
    score        its next due time in epoch seconds, or -1 when it has no more runs
    count        total_run_count to write (digits)
    marker       the incarnation marker the values are of; '' = not checked

  Reply   the number of entries written.
  Errors  WRONGTYPE naming the key when the schedule key holds another type, before any write.
  Writes  per entry still in RedBeat (its hash has a definition and the zset has its member) and of
          the same incarnation (its marker is `marker`): HSET meta, ZADD score. An entry Python
          deleted meanwhile is left deleted, not recreated; one deleted and saved again (another
          marker, or none yet) is left to its own runs.
]]
--- @include "key-type"

local refused = wrongType('redbeat-meta', KEYS[1], 'zset')
if refused then return refused end
local written = 0
for i = 2, #KEYS do
  local key = KEYS[i]
  local at = 4 * (i - 1) - 2
  local lastRun, score, count, marker = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  if redis.call('ZSCORE', KEYS[1], key) and redis.call('TYPE', key).ok == 'hash' and redis.call('HEXISTS', key, 'definition') == 1
    and (marker == '' or redis.call('HGET', key, ARGV[1]) == marker) then
    redis.call('HSET', key, 'meta', '{"last_run_at": ' .. lastRun .. ', "total_run_count": ' .. count .. '}')
    redis.call('ZADD', KEYS[1], score, key)
    written = written + 1
  end
end
return written
