--[[
  backfill-fenced: publish one step (a chunk of slots) of a backfill request (`beat backfill`), only
  while the caller holds the leadership fence. Each slot goes out at most once, ever: in the same
  atomic step it is checked against, and added to, the entry's record of published slots
  (includes/published-slots.lua), which the scheduled publishes write too. The request's progress
  (counts, and the last slot this step covered) is written in the same step, so that a leader
  killed between steps leaves nothing half-done and the next leader goes on after `through`.

  Which slots it publishes (per-slot codes):
    1 published: at or before the entry's stored slot (or, for an entry that never published,
      before its first sighting `seen`), at or after the oldest slot the record vouches for, and
      not in the record. Pushed, recorded.
    0 recorded: in the record already (published by the schedule or an earlier backfill): skipped.
    4 ahead: after the entry's stored slot (or at or after its first sighting, or the entry has no
      state at all): the schedule's own to publish or to catch up, never a backfill's; skipped.
    5 unrecorded: older than the oldest slot the record vouches for (trimmed, or published before
      the record existed): skipped, unless ARGV[7] says to publish such slots anyway.

  KEYS[1]      fence key (string)
  KEYS[2]      state hash (includes/entry-state.lua)
  KEYS[3]      entries hash: the runtime entries' records (includes/entry-record.lua)
  KEYS[4]      published-since hash (includes/published-slots.lua)
  KEYS[5]      the entry's published zset
  KEYS[6]      pending backfill requests (list)
  KEYS[7]      this request's progress (hash): published, recorded, ahead, unrecorded, excluded
               (counts), through (the last slot covered, epoch ms), total, done (epoch ms), error
  KEYS[8..]    broker lists to push to

  ARGV[1]      fence token
  ARGV[2]      publish time, epoch ms
  ARGV[3]      the request exactly as it sits in the list
  ARGV[4]      entry name
  ARGV[5]      the entry's revision (as publish-fenced.lua's revision column; '' = not checked)
  ARGV[6]      how many slots the published zset keeps (DEFAULTS.publishedSlotsKept)
  ARGV[7]      '1' to publish slots older than the record vouches for (--unrecorded), else ''
  ARGV[8]      '1' when this is the request's last step: the request is removed and `done` set
  ARGV[9]      excluded slots this step passed over (counted in the progress, not published)
  ARGV[10]     the last slot this step covers (`through`), ARGV[11] the request's total slots
  ARGV[12]     R: the number of slots; then per slot, ascending: slot (epoch ms), P pushes, C channel
               publishes, then P pairs (index into KEYS, payload) and C pairs (channel, payload)

  Reply   { 1, c1 .. cR } done; { 0 } the request is no longer pending (withdrawn, or done):
          nothing written; { -1 } fenced: nothing written; { 2 } superseded: the entry changed since
          the caller read it (its revision is not the stored record's version): nothing written,
          the request stays for the entry as it is now;
          { 3, key, type } refused: a broker list or the entry's published zset holds another Redis
          type (the entry's fault): nothing published, the request is removed, and its progress
          says `error` "<key> <type>" for the CLI
  Errors  WRONGTYPE naming the key when the fence, state, entries, published-since, request list
          or progress key holds another type; ERR when a number argument is not one or a push's
          key index is not valid. All before anything is written: all or nothing.
  Writes  LPUSH / PUBLISH of the published slots' payloads; ZADD of them to the entry's published
          zset (trimmed), published-since; HINCRBY / HSET of the progress (1 hour expiry); on the
          last step LREM of the request. The entry's state is not written: a backfill moves no schedule.
]]
--- @include "fence"
--- @include "entry-state"
--- @include "entry-record"
--- @include "published-slots"

local SCRIPT = 'backfill-fenced'
local held = fenceHeld(SCRIPT, KEYS[1], ARGV[1])
if held ~= true then return held or { -1 } end
local refused = wrongType(SCRIPT, KEYS[2], 'hash') or wrongType(SCRIPT, KEYS[3], 'hash') or wrongType(SCRIPT, KEYS[4], 'hash')
  or wrongType(SCRIPT, KEYS[6], 'list') or wrongType(SCRIPT, KEYS[7], 'hash')
if refused then return refused end
local badKey, badType
for i = 5, #KEYS do
  if i ~= 6 and i ~= 7 then
    local kind = redis.call('TYPE', KEYS[i]).ok
    local expected = i == 5 and 'zset' or 'list'
    if kind ~= expected and kind ~= 'none' then
      badKey, badType = KEYS[i], kind
      break
    end
  end
end
local now, keep, excluded, through, total, runs =
  tonumber(ARGV[2]), tonumber(ARGV[6]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
if not (now and keep and excluded and through and total and runs) then
  return redis.error_reply('ERR ' .. SCRIPT .. ': ARGV[2], [6] and [9] to [12] must be numbers')
end
-- Every slot's layout is checked before the first write.
local slots, at = {}, 13
for r = 1, runs do
  local slot, pushes, channels = tonumber(ARGV[at]), tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  if not (slot and pushes and channels) then
    return redis.error_reply('ERR ' .. SCRIPT .. ': slot ' .. r .. ' has no slot, push count or channel count')
  end
  for i = 1, pushes do
    local index = tonumber(ARGV[at + 1 + 2 * i])
    if not index or index < 8 or index > #KEYS then
      return redis.error_reply('ERR ' .. SCRIPT .. ': slot ' .. r .. ', push ' .. i .. ' names no broker list in KEYS')
    end
  end
  slots[r] = { slot = slot, at = at + 3, pushes = pushes, channels = channels }
  at = at + 3 + 2 * (pushes + channels)
end

-- The request must still be pending (the CLI withdraws it when it gives up waiting). The list
-- holds the few requests waiting for a leader: a scan is cheap.
local pending = false
for _, request in ipairs(redis.call('LRANGE', KEYS[6], 0, -1)) do
  if request == ARGV[3] then
    pending = true
    break
  end
end
if not pending then return { 0 } end
if ARGV[5] ~= '' and recordVersion(redis.call('HGET', KEYS[3], ARGV[4])) ~= ARGV[5] then return { 2 } end
if badKey then
  redis.call('LREM', KEYS[6], 1, ARGV[3])
  redis.call('HSET', KEYS[7], 'error', badKey .. ' ' .. badType, 'done', now)
  redis.call('EXPIRE', KEYS[7], 3600)
  return { 3, badKey, badType }
end

local state = decodeState(redis.call('HGET', KEYS[2], ARGV[4]))
local storedSlot = state and state.slot
local from = vouchedFrom(KEYS[4], KEYS[5], ARGV[4], storedSlot)
local force = ARGV[7] == '1'
local result = { 1 }
local published, counts = {}, { [0] = 0, [1] = 0, [4] = 0, [5] = 0 }
for r = 1, runs do
  local s = slots[r]
  local code
  if storedSlot ~= nil then
    code = s.slot > storedSlot and 4 or nil
  elseif state and state.seen and s.slot < state.seen then
    code = nil
  else
    code = 4
  end
  if code == nil and s.slot < from and not force then code = 5 end
  if code == nil and redis.call('ZSCORE', KEYS[5], s.slot) then code = 0 end
  if code == nil then
    local i = s.at
    for _ = 1, s.pushes do
      redis.call('LPUSH', KEYS[tonumber(ARGV[i])], ARGV[i + 1])
      i = i + 2
    end
    for _ = 1, s.channels do
      redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
      i = i + 2
    end
    published[#published + 1] = s.slot
    code = 1
  end
  result[r + 1] = code
  counts[code] = counts[code] + 1
end
if #published > 0 then
  table.sort(published)
  -- Pinned before a slot goes in below it (--unrecorded): a record's lowest slot must not lower what it vouches for.
  redis.call('HSETNX', KEYS[4], ARGV[4], from)
  recordSlots(KEYS[5], KEYS[4], ARGV[4], published, #published, false, true, keep)
end
redis.call('HINCRBY', KEYS[7], 'published', counts[1])
redis.call('HINCRBY', KEYS[7], 'recorded', counts[0])
redis.call('HINCRBY', KEYS[7], 'ahead', counts[4])
redis.call('HINCRBY', KEYS[7], 'unrecorded', counts[5])
redis.call('HINCRBY', KEYS[7], 'excluded', excluded)
redis.call('HSET', KEYS[7], 'through', through, 'total', total)
if ARGV[8] == '1' then
  redis.call('LREM', KEYS[6], 1, ARGV[3])
  redis.call('HSET', KEYS[7], 'done', now)
end
redis.call('EXPIRE', KEYS[7], 3600)
return result
