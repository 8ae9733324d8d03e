--[[
  trigger-fenced: publish one manual run (`beat trigger`) exactly once, only while the caller holds
  the leadership fence. A manual run has its own task id and does not move the entry's schedule:
  the stored slot stays; the run count, last task id and publish time are updated, and `"by":"trigger"`
  says the last run was this manual one (the next scheduled run's state, written whole, drops it).

  KEYS[1]      fence key (string)
  KEYS[2]      state hash (includes/entry-state.lua)
  KEYS[3]      pending trigger requests (list)
  KEYS[4]      confirmation key for this request (`triggered:<task id>`), read by the CLI
  KEYS[5]      entries hash: the runtime entries' records (includes/entry-record.lua)
  KEYS[6]      stop key: while it exists (`beat pause --all`) nothing is published (includes/stop.lua)
  KEYS[7..]    broker lists to push to

  ARGV[1]      fence token
  ARGV[2]      publish time, epoch ms
  ARGV[3]      the request exactly as it sits in the list (removed here, so it runs once)
  ARGV[4]      entry name
  ARGV[5]      task id
  ARGV[6]      P: number of pushes; ARGV[7]: C: number of channel publishes
  ARGV[8]      the entry's revision (as publish-fenced.lua's revision column; '' = not checked;
               '@' .. incarnation: the state's, includes/entry-fence.lua)
  then P pairs (index into KEYS, payload) and C pairs (channel, payload)

  Reply   1 published; 0 the request was no longer pending (cancelled or done): nothing written; -1 fenced;
          -3 stopped: the deployment is stopped (KEYS[6] exists): nothing written, the request stays
          pending (the leader leaves it until the stop is lifted, or until it is too old);
          2 superseded: the entry changed since the caller read it (its revision is not the stored
          record's version, or its state belongs to a newer incarnation; one of an older incarnation
          counts as none): nothing written, the request stays pending for the entry as it is now
          { 3, key, type } refused: a broker list holds another Redis type (this entry's fault, not the
          deployment's): the request is removed, nothing is published, the state is left as it was,
          and the confirmation key says "refused <key> <type>" for the CLI
  Errors  WRONGTYPE naming the key when the fence, state, request list or entries hash holds another
          type; ERR when the publish time or a push's key index is not valid. All before anything is
          written: all or nothing.
  Writes  LREM of the request; LPUSH / PUBLISH of the payloads; HSET of the entry's state:
          {slot, seen, at, by: "trigger", id, n + 1, t + 1} (a missing or unreadable state counts as
          none: n = 0, seen = the publish time); SET of the confirmation key (1 hour expiry).
]]
--- @include "fence"
--- @include "stop"
--- @include "entry-state"
--- @include "entry-record"
--- @include "entry-fence"

local SCRIPT = 'trigger-fenced'
local held = fenceHeld(SCRIPT, KEYS[1], ARGV[1])
if held ~= true then return held or -1 end
if deploymentStopped(KEYS[6]) then return -3 end
-- Redis does not undo writes made before an error: every key, argument and the stored state is
-- checked and read first.
local refused = wrongType(SCRIPT, KEYS[2], 'hash') or wrongType(SCRIPT, KEYS[3], 'list') or wrongType(SCRIPT, KEYS[5], 'hash')
if refused then return refused end
local badKey, badType
for i = 7, #KEYS do
  local kind = redis.call('TYPE', KEYS[i]).ok
  if kind ~= 'list' and kind ~= 'none' then
    badKey, badType = KEYS[i], kind
    break
  end
end
local now = tonumber(ARGV[2])
if not now then return redis.error_reply('ERR ' .. SCRIPT .. ': the publish time is not a number') end
local pushes = tonumber(ARGV[6])
local channels = tonumber(ARGV[7])
for i = 1, pushes do
  local index = tonumber(ARGV[7 + 2 * i])
  if not index or index < 7 or index > #KEYS then
    return redis.error_reply('ERR ' .. SCRIPT .. ': push ' .. i .. ' names no broker list in KEYS')
  end
end
local g = fenceOf(ARGV[8])
if ARGV[8] ~= '' and not g and recordFenceRefuses(ARGV[8], redis.call('HGET', KEYS[5], ARGV[4])) then return 2 end
local state = decodeState(redis.call('HGET', KEYS[2], ARGV[4]))
if g then state = incarnationFence(ARGV[8], state) end
if state == 'superseded' then return 2 end

if redis.call('LREM', KEYS[3], 1, ARGV[3]) == 0 then
  return 0
end
if badKey then
  redis.call('SET', KEYS[4], 'refused ' .. badKey .. ' ' .. badType, 'EX', 3600)
  return { 3, badKey, badType }
end
local at = 9
for _ = 1, pushes do
  redis.call('LPUSH', KEYS[tonumber(ARGV[at])], ARGV[at + 1])
  at = at + 2
end
for _ = 1, channels do
  redis.call('PUBLISH', ARGV[at], ARGV[at + 1])
  at = at + 2
end
redis.call('HSET', KEYS[2], ARGV[4], manualRunState(state, now, ARGV[5], g))
redis.call('SET', KEYS[4], ARGV[2], 'EX', 3600)
return 1
