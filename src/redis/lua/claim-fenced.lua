--[[
  claim-fenced: the first step of an AMQP publish (the broker is not Redis, so publishing cannot
  happen inside a script). Checks that the caller still holds the leadership fence and which runs
  are newer than the stored state. A run counts as published only when commit-fenced.lua records
  it, after the broker confirmed it.

  KEYS[1]      fence key (string): the token of the current leader
  KEYS[2]      state hash: field = entry name, value = the entry's state (includes/entry-state.lua)
  KEYS[3]      entries hash: the runtime entries' records (includes/entry-record.lua)
  KEYS[4]      stop key: while it exists (`beat pause --all`) nothing may be published (includes/stop.lua)

  ARGV[1]      fence token of the caller
  ARGV[2]      how far (ms) a slot may be ahead of this server's clock (TIME): lock.maxClockSkew
  ARGV[3]      number of runs R
  then, per run: entry, slot (epoch ms), revision (as publish-fenced.lua's revision column: the
               version of the entry's record the caller read it from, or '@' .. incarnation;
               '' = not checked; includes/entry-fence.lua)

  Reply  { status, c1 .. cR }, or { -2, now, slot }, or { -3 }
    status  1 = checked; -1 = fenced: the caller is not the leader (nothing else was read);
            -3 = stopped: the deployment is stopped (KEYS[4] exists): publish nothing;
            -2 = ahead: a slot is further ahead of this server's clock than ARGV[2] (the caller's
            clock is ahead): publish nothing; `now` is TIME in ms, `slot` the first such slot.
            commit-fenced.lua records only runs claimed here, so it never records such a slot.
    c       1 = fresh: publish it; 0 = stale: the stored slot is at or after this one; 2 =
            superseded: the revision is not the stored record's version (the entry changed), or
            the state belongs to a newer incarnation: do not publish it, read the entry again.
            A state of an older incarnation is no state: the run is fresh.
            A missing or unreadable state is no state: the run is fresh.
  Errors  WRONGTYPE naming the key when the fence, state or entries key holds another type;
          ERR when a slot is not a number.
  Writes  nothing.
]]
--- @include "fence"
--- @include "stop"
--- @include "entry-state"
--- @include "entry-record"
--- @include "entry-fence"

local SCRIPT = 'claim-fenced'
local held = fenceHeld(SCRIPT, KEYS[1], ARGV[1])
if held ~= true then return held or { -1 } end
if deploymentStopped(KEYS[4]) then return { -3 } end
local refused = wrongType(SCRIPT, KEYS[2], 'hash') or wrongType(SCRIPT, KEYS[3], 'hash')
if refused then return refused end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local latest = now + tonumber(ARGV[2])

local runs = tonumber(ARGV[3])
local result = { 1 }
local at = 4
for r = 1, runs do
  local entry = ARGV[at]
  local slot = tonumber(ARGV[at + 1])
  local revision = ARGV[at + 2]
  at = at + 3
  if not slot then return redis.error_reply('ERR ' .. SCRIPT .. ': the slot of run ' .. r .. ' is not a number') end
  if slot > latest then
    return { -2, now, slot }
  end
  local stored = decodeState(redis.call('HGET', KEYS[2], entry))
  if fenceOf(revision) then stored = incarnationFence(revision, stored) end
  if stored == 'superseded' or (revision ~= '' and not fenceOf(revision) and recordFenceRefuses(revision, redis.call('HGET', KEYS[3], entry))) then
    result[#result + 1] = 2
  elseif stored and stored.slot ~= nil and stored.slot >= slot then
    result[#result + 1] = 0
  else
    result[#result + 1] = 1
  end
end
return result
