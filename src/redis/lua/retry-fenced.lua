--[[
  retry-fenced: publish one pending attempt of a slot (issue 70; core/retry.ts) exactly once, only
  while the caller holds the leadership fence: the attempt's member leaves the retries zset in the
  same step that pushes its message, so that no failover, lost reply or racing leader publishes it
  twice. An attempt does not move the entry's schedule: the state is read (for the entry fence), never
  written; the attempt's run record is the outcome tracker's (lua/run-history.lua).

  A broker outside Redis (RabbitMQ, SQS: send-then-commit-dispatcher.ts) cannot take part in the
  step, so there it is two calls around the confirmed send, as claim-trigger.lua and
  commit-trigger.lua are for a manual run: ARGV[3] 'claim' makes the checks above and claims the
  attempt, moving its due time (its score) to the claim's end, so that no leader finds it due while
  it is being sent; 'commit' removes it once the broker confirmed the message (or refused it for the
  entry's own fault). At least once: a leader deposed or dead between the send and the commit leaves
  the attempt pending, and the next leader sends it again when the claim ends, under the same task id
  (the attempt's uuid5), so the worker or the result backend can tell the duplicate.

  KEYS[1]      fence key (string)
  KEYS[2]      state hash (includes/entry-state.lua), for the entry fence of an '@' revision
  KEYS[3]      entries hash: the runtime entries' records (includes/entry-record.lua), for a digits revision
  KEYS[4]      stop key: while it exists (`beat pause --all`) nothing is published (includes/stop.lua)
  KEYS[5]      retries zset (keys.ts `retries`, retry-codec.ts), or the waiting zset (keys.ts `waiting`,
               waiting-codec.ts): a run its concurrency group releases is published by the same step
               (the Redis broker only: a group's `wait` is refused with the others), its member (whose
               `e` is its entry, as an attempt's) taken off in the push
  KEYS[6]      the entry's history list (keys.ts `runs`), KEYS[7] the pending set (`runsPending`): where the
               run's PENDING record goes in the publishing step (ARGV[6])
  KEYS[8..]    broker lists to push to (none with 'claim' or 'commit')

  ARGV[1]      fence token
  ARGV[2]      the attempt's (or waiting run's) member exactly as it sits in the zset (removed here, so it runs once)
  ARGV[3]      P: number of pushes; or 'claim', or 'commit' (the step of a broker outside Redis)
  ARGV[4]      C: number of channel publishes; with 'claim': how long the claim lasts, ms (from TIME)
  ARGV[5]      the revision the slot's run was published under (the member's `r`; '' = not checked: an
               entry of the config file; see includes/entry-fence.lua)
  ARGV[6]      the run's PENDING record (run-history-codec.ts), '' for none: pushed to its history and its
               entry added to the pending set in the step that publishes it ('commit' for a broker outside
               Redis), unless its id is there already; lua/run-history.lua's later push of the same id
               writes over it as an update does. A leader killed right after the publish, before its outcome tracker
               wrote the run (it writes a moment later), leaves it to the next leader to follow, so that
               its outcome, its next attempt and its group's place are not lost. A history list or
               pending set of another type only skips the record (the tracker's own write names it).
  ARGV[7]      the history length to keep (DEFAULTS.runHistoryLength)
  then P pairs (index into KEYS, payload) and C pairs (channel, payload)

  Reply   1 published (claimed with 'claim': send it now; removed with 'commit'); 0 the attempt was no
          longer pending (published already, or dropped): nothing written; -1 fenced (also 'commit':
          the attempt stays pending, and the next leader sends it again when the claim ends); -3
          stopped: nothing written, the attempt stays pending until the stop is lifted ('commit' is
          not stopped: what the broker confirmed is recorded); 2 dropped: the entry was deleted or
          created again since its slot's run was published (incarnationHolds), so the attempt is
          removed and nothing is published; { 3, key, type } refused: a broker list holds another
          Redis type (this entry's fault): the attempt is removed, nothing is published
  Errors  WRONGTYPE naming the key when the fence, state, entries hash or retries zset holds another
          type; ERR when a push's key index or the claim's length is not valid. All before anything
          is written.
  Writes  ZREM of the member; LPUSH / PUBLISH of the payloads; LPUSH + LTRIM of the record, SADD of the
          pending set; with 'claim' (instead): ZADD XX of the member, scored TIME + ARGV[4]; with
          'commit': ZREM, and the record as above if the member was still there and the entry holds.
]]
--- @include "fence"
--- @include "stop"
--- @include "entry-state"
--- @include "entry-record"
--- @include "entry-fence"

local SCRIPT = 'retry-fenced'
local FIRST_LIST = 8
local held = fenceHeld(SCRIPT, KEYS[1], ARGV[1])
if held ~= true then return held or -1 end
local length = tonumber(ARGV[7])
if not length or length < 1 then return redis.error_reply('ERR ' .. SCRIPT .. ': ARGV[7], the history length, is not a positive number') end

-- The run's PENDING record, in the publishing step (see ARGV[6]).
local function pushRecord(entry)
  local record = ARGV[6]
  if record == '' then return end
  local listKind, setKind = redis.call('TYPE', KEYS[6]).ok, redis.call('TYPE', KEYS[7]).ok
  if (listKind ~= 'list' and listKind ~= 'none') or (setKind ~= 'set' and setKind ~= 'none') then return end
  local ok, decoded = pcall(cjson.decode, record)
  if not ok or type(decoded) ~= 'table' or type(decoded.id) ~= 'string' then return end
  for _, stored in ipairs(redis.call('LRANGE', KEYS[6], 0, length - 1)) do
    local fine, run = pcall(cjson.decode, stored)
    if fine and type(run) == 'table' and run.id == decoded.id then return end
  end
  redis.call('LPUSH', KEYS[6], record)
  redis.call('LTRIM', KEYS[6], 0, length - 1)
  redis.call('SADD', KEYS[7], entry)
end

if ARGV[3] == 'commit' then
  local refused = wrongType(SCRIPT, KEYS[5], 'zset')
  if refused then return refused end
  local removed = redis.call('ZREM', KEYS[5], ARGV[2])
  if removed == 1 then
    local entry = cjson.decode(ARGV[2]).e
    if storedIncarnationHolds(ARGV[5], KEYS[2], KEYS[3], entry) then pushRecord(entry) end
  end
  return removed
end
if deploymentStopped(KEYS[4]) then return -3 end
local refused = wrongType(SCRIPT, KEYS[2], 'hash') or wrongType(SCRIPT, KEYS[3], 'hash') or wrongType(SCRIPT, KEYS[5], 'zset')
if refused then return refused end
local badKey, badType
for i = FIRST_LIST, #KEYS do
  local kind = redis.call('TYPE', KEYS[i]).ok
  if kind ~= 'list' and kind ~= 'none' then
    badKey, badType = KEYS[i], kind
    break
  end
end
local claim = ARGV[3] == 'claim'
local pushes = claim and 0 or tonumber(ARGV[3])
local channels = claim and 0 or tonumber(ARGV[4])
if not pushes or not channels then return redis.error_reply('ERR ' .. SCRIPT .. ': the push and publish counts are not numbers') end
if claim and not tonumber(ARGV[4]) then return redis.error_reply('ERR ' .. SCRIPT .. ": the claim's length is not a number") end
for i = 1, pushes do
  local index = tonumber(ARGV[6 + 2 * i])
  if not index or index < FIRST_LIST or index > #KEYS then
    return redis.error_reply('ERR ' .. SCRIPT .. ': push ' .. i .. ' names no broker list in KEYS')
  end
end

if redis.call('ZSCORE', KEYS[5], ARGV[2]) == false then return 0 end
local entry = cjson.decode(ARGV[2]).e
if not storedIncarnationHolds(ARGV[5], KEYS[2], KEYS[3], entry) then
  redis.call('ZREM', KEYS[5], ARGV[2])
  return 2
end
if claim then
  -- Before Redis 5 a script that reads TIME may write only under effects replication (see publish-fenced.lua).
  redis.replicate_commands()
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  redis.call('ZADD', KEYS[5], 'XX', now + tonumber(ARGV[4]), ARGV[2])
  return 1
end
redis.call('ZREM', KEYS[5], ARGV[2])
if badKey then return { 3, badKey, badType } end
local at = 8
for _ = 1, pushes do
  redis.call('LPUSH', KEYS[tonumber(ARGV[at])], ARGV[at + 1])
  at = at + 2
end
for _ = 1, channels do
  redis.call('PUBLISH', ARGV[at], ARGV[at + 1])
  at = at + 2
end
pushRecord(entry)
return 1
