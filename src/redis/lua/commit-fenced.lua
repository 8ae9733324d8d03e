--[[
  commit-fenced: the last step of an AMQP publish. Records runs the broker confirmed, moving each
  entry's state forward only (a compare-and-set on the slot), and only while the caller still
  holds the leadership fence. The state is written as publish-fenced.lua writes it.

  KEYS[1]      fence key (string)
  KEYS[2]      state hash (includes/entry-state.lua)
  KEYS[3]      entries hash: the runtime entries' records (includes/entry-record.lua)

  ARGV[1]      fence token of the caller
  ARGV[2]      publish time, epoch ms (time comes in as an argument, never from TIME)
  ARGV[3]      number of runs R
  then, per run: entry, slot (epoch ms), task id, revision (as claim-fenced.lua's; '' = not checked;
               '@' .. incarnation: the state's incarnation is checked, and written as its `g`)

  Reply  { status, c1 .. cR }
    status  1 = done; -1 = fenced: nothing was written (the messages are on the broker regardless:
            the next leader may publish the same slots again, with the same task ids)
    c       1 = recorded: {slot, seen, at, id, n + 1, t} (seen, n and t of the stored state; 0 when it is missing or
            unreadable, which counts as no state); 0 = stale: the stored slot was already at or
            after this one (another publish recorded it first); nothing written; 2 = superseded:
            the entry changed since it was claimed (its revision is not the stored record's
            version, or the state belongs to a newer incarnation): nothing written, so that a
            deleted entry's state is never written back (the message is on the broker regardless).
            A state of an older incarnation counts as none.
  Errors  WRONGTYPE naming the key when the fence, state or entries key holds another type; ERR when the
          publish time or a slot is not a number. Both before anything is written.
  Writes  HSET of each recorded run's state.
]]
--- @include "fence"
--- @include "entry-state"
--- @include "entry-record"
--- @include "entry-fence"

local SCRIPT = 'commit-fenced'
local held = fenceHeld(SCRIPT, KEYS[1], ARGV[1])
if held ~= true then return held or { -1 } end
local refused = wrongType(SCRIPT, KEYS[2], 'hash') or wrongType(SCRIPT, KEYS[3], 'hash')
if refused then return refused end

local now = tonumber(ARGV[2])
local runs = tonumber(ARGV[3])
if not now then return redis.error_reply('ERR ' .. SCRIPT .. ': the publish time is not a number') end
for r = 1, runs do
  if not tonumber(ARGV[4 + 4 * (r - 1) + 1]) then return redis.error_reply('ERR ' .. SCRIPT .. ': the slot of run ' .. r .. ' is not a number') end
end

local result = { 1 }
local at = 4
for _ = 1, runs do
  local entry = ARGV[at]
  local slot = tonumber(ARGV[at + 1])
  local id = ARGV[at + 2]
  local revision = ARGV[at + 3]
  at = at + 4
  local stored = decodeState(redis.call('HGET', KEYS[2], entry))
  local g = fenceOf(revision)
  if g then stored = incarnationFence(revision, stored) end
  if stored == 'superseded' or (revision ~= '' and not g and recordFenceRefuses(revision, redis.call('HGET', KEYS[3], entry))) then
    result[#result + 1] = 2
  elseif stored and stored.slot ~= nil and stored.slot >= slot then
    result[#result + 1] = 0
  else
    redis.call('HSET', KEYS[2], entry, encodeState({ slot = slot, seen = stored and stored.seen, at = now, id = id, g = g, n = (stored and stored.n or 0) + 1, t = stored and stored.t }))
    result[#result + 1] = 1
  end
end
return result
