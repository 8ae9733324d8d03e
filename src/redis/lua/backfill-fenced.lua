--[[
  backfill-fenced: publish one step (a chunk of slots) of a backfill request (`beat backfill`), only
  while the caller holds the leadership fence. Each slot goes out at most once, ever: in the same
  atomic step it is checked against the entry's record of passed-over slots
  (includes/passed-ranges.lua) and, when published, cut out of it. The record holds the exceptions,
  not the rule: the schedule publishes in order, so a slot at or before the entry's stored slot L was
  published unless the leader passed it over (and recorded that). The request's progress (counts,
  and the last slot this step covered) is written in the same step, so that a leader killed between
  steps leaves nothing half-done and the next leader goes on after `through`.

  Which slots it publishes (per-slot codes):
    1 published: at or before L, in a passed-over range; or before the entry's first sighting `seen`
      (never published by this incarnation) when the record speaks for it (the entry was first seen
      after passed-since, or has published nothing yet). Pushed, and cut out of the record.
    0 recorded: at or before L, at or after the oldest slot the record speaks for, in no range:
      published by the schedule or an earlier backfill; skipped.
    4 ahead: after L (or, with no L, at or after `seen`, or no state at all): the schedule's own to
      publish or to catch up, never a backfill's; skipped.
    5 unrecorded: older than the record speaks for (before passed-since, or below the floor its
      trimmed ranges left): skipped, unless ARGV[6] says to publish such slots anyway (then not recorded).
    6 overlap: a slot that would be coded 1, held by the request's overlap policy (P = -2): skipped
      and left in the record of passed-over slots, so that a later backfill can still publish it.

  KEYS[1]      fence key (string)
  KEYS[2]      state hash (includes/entry-state.lua)
  KEYS[3]      entries hash: the runtime entries' records (includes/entry-record.lua)
  KEYS[4]      passed-floor hash
  KEYS[5]      the entry's passed zset
  KEYS[6]      pending backfill requests (list)
  KEYS[7]      this request's progress (hash): published, recorded, ahead, unrecorded, excluded,
               overlap (counts), through (the last slot covered, epoch ms), total, done (epoch ms),
               error, kept ('1': bufferOne kept a slot while a run was in flight), last (the
               newest slot this request published: the run a paced policy waits for), entry (its
               entry's name: the API answers a progress through its own entry only)
  KEYS[8]      passed-since (string)
  KEYS[9]      stop key: while it exists (`beat pause --all`) a step that would publish (a claim, or
               a slot with a push or a channel publish) publishes and writes nothing (includes/stop.lua);
               a step with no pushes (recording what a broker outside Redis confirmed) goes on
  KEYS[10..]   broker lists to push to

  ARGV[1]      fence token
  ARGV[2]      publish time, epoch ms
  ARGV[3]      the request exactly as it sits in the list
  ARGV[4]      entry name
  ARGV[5]      the entry's revision (as publish-fenced.lua's revision column: '' = not checked,
               digits = its record's version, '@' .. incarnation; includes/entry-fence.lua)
  ARGV[6]      '1' to publish slots older than the record speaks for (--unrecorded), else ''
  ARGV[7]      '1' when this is the request's last step: the request is removed and `done` set;
               'claim' to classify the slots only (a broker outside Redis: RabbitMQ, SQS): the
               fence, the request and the revision are checked and each slot's code replied as a
               step would, but nothing is pushed or written (except a refusal's); the caller sends
               the slots coded 1, and with their confirms calls a step (P = 0) to record them
  ARGV[8]      excluded slots this step passed over (counted in the progress, not published)
  ARGV[9]      the last slot this step covers (`through`), ARGV[10] the request's total slots
  ARGV[11]     R: the number of slots; then per slot, ascending: slot (epoch ms), P pushes, C channel
               publishes, then P pairs (index into KEYS, payload) and C pairs (channel, payload).
               P = -1 (and C = 0): held, the slot is not published by this step (its claim did not
               code it 1): counted as its code says, and a 1 becomes 4 (ahead: it was passed over
               only since the claim, and stays in the record for a later backfill).
               P = -2 (and C = 0): held by the overlap policy: a 1 becomes 6 (overlap), nothing cut
  ARGV[after the slots]  optional: 'kept' sets the progress's `kept` (a step, not a claim)

  Reply   { 1, c1 .. cR } done; { 0 } the request is no longer pending (withdrawn, or done):
          nothing written; { -1 } fenced: nothing written; { 2 } superseded: the entry changed since
          the caller read it (its revision is not the stored record's version, or its state is a
          newer incarnation's): nothing written, the request stays for the entry as it is now;
          { 3, key, type } refused: a broker list or the entry's passed zset holds another Redis
          type (the entry's fault): nothing published, the request is removed, and its progress
          says `error` "<key> <type>" for the CLI; { -3 } stopped: the deployment is stopped and the
          step would publish: nothing written, the request stays pending
  Errors  WRONGTYPE naming the key when the fence, state, entries, passed-floor, request list,
          progress or passed-since key holds another type; ERR when a number argument is not one
          or a push's key index is not valid. All before anything is written: all or nothing.
  Writes  LPUSH / PUBLISH of the published slots' payloads; the passed zset's ranges cut around
          them (the region before `seen` written as a range first, and the floor set to 0, the
          first time a slot there is published); HINCRBY / HSET of the progress (1 hour expiry); on
          the last step LREM of the request. The entry's state is not written: a backfill moves no schedule.
]]
--- @include "fence"
--- @include "stop"
--- @include "entry-state"
--- @include "entry-record"
--- @include "entry-fence"
--- @include "passed-ranges"

local SCRIPT = 'backfill-fenced'
local held = fenceHeld(SCRIPT, KEYS[1], ARGV[1])
if held ~= true then return held or { -1 } end
local refused = wrongType(SCRIPT, KEYS[2], 'hash') or wrongType(SCRIPT, KEYS[3], 'hash') or wrongType(SCRIPT, KEYS[4], 'hash')
  or wrongType(SCRIPT, KEYS[6], 'list') or wrongType(SCRIPT, KEYS[7], 'hash') or wrongType(SCRIPT, KEYS[8], 'string')
if refused then return refused end
local badKey, badType
for i = 5, #KEYS do
  if i ~= 6 and i ~= 7 and i ~= 8 and i ~= 9 then
    local kind = redis.call('TYPE', KEYS[i]).ok
    local expected = i == 5 and 'zset' or 'list'
    if kind ~= expected and kind ~= 'none' then
      badKey, badType = KEYS[i], kind
      break
    end
  end
end
local now, excluded, through, total, runs =
  tonumber(ARGV[2]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
if not (now and excluded and through and total and runs) then
  return redis.error_reply('ERR ' .. SCRIPT .. ': ARGV[2] and [8] to [11] must be numbers')
end
-- Every slot's layout is checked before the first write.
local slots, at = {}, 12
for r = 1, runs do
  local slot, pushes, channels = tonumber(ARGV[at]), tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  if not (slot and pushes and channels) then
    return redis.error_reply('ERR ' .. SCRIPT .. ': slot ' .. r .. ' has no slot, push count or channel count')
  end
  if pushes < -2 then
    return redis.error_reply('ERR ' .. SCRIPT .. ': slot ' .. r .. ' has a push count below -2')
  end
  local isHeld, overlapHeld = pushes < 0, pushes == -2
  if isHeld then pushes = 0 end
  for i = 1, pushes do
    local index = tonumber(ARGV[at + 1 + 2 * i])
    if not index or index < 10 or index > #KEYS then
      return redis.error_reply('ERR ' .. SCRIPT .. ': slot ' .. r .. ', push ' .. i .. ' names no broker list in KEYS')
    end
  end
  slots[r] = { slot = slot, at = at + 3, pushes = pushes, channels = channels, held = isHeld, overlap = overlapHeld }
  at = at + 3 + 2 * (pushes + channels)
end
-- The stop holds back a step that would publish (or a claim, which leads to a send); a step that
-- only records what a broker already confirmed goes on, so that it is never sent again.
local publishes = ARGV[7] == 'claim'
for r = 1, runs do
  if slots[r].pushes > 0 or slots[r].channels > 0 then publishes = true end
end
if publishes and deploymentStopped(KEYS[9]) then return { -3 } end

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
local revision = ARGV[5]
local state = decodeState(redis.call('HGET', KEYS[2], ARGV[4]))
if fenceOf(revision) then state = incarnationFence(revision, state) end
if state == 'superseded' or (revision ~= '' and not fenceOf(revision) and recordFenceRefuses(revision, redis.call('HGET', KEYS[3], ARGV[4]))) then
  return { 2 }
end
if badKey then
  redis.call('LREM', KEYS[6], 1, ARGV[3])
  redis.call('HSET', KEYS[7], 'error', badKey .. ' ' .. badType, 'done', now, 'entry', ARGV[4])
  redis.call('EXPIRE', KEYS[7], 3600)
  return { 3, badKey, badType }
end

local last = state and state.slot
local seen = state and state.seen
local since = tonumber(redis.call('GET', KEYS[8]))
local floorText = redis.call('HGET', KEYS[4], ARGV[4])
-- The region before the first sighting was never published by this incarnation. The record speaks
-- for it until a trim sets a floor, when the entry was first seen after passed-since (its passed-over
-- slots have all been recorded since) or has published nothing yet.
local beforeSeen = not floorText and seen ~= nil and (last == nil or (since ~= nil and seen >= since))
-- Below this the record says nothing: unset passed-since means no leader has recorded yet.
local floor = tonumber(floorText) or since or math.huge
local force = ARGV[6] == '1'
local claim = ARGV[7] == 'claim'
-- A claim writes nothing: the region before `seen` counts as the range a step would write.
local claimedBeforeSeen = false
local result = { 1 }
local counts = { [0] = 0, [1] = 0, [4] = 0, [5] = 0, [6] = 0 }
local flags = ARGV[at]
local lastPublished
for r = 1, runs do
  local s = slots[r]
  local code
  if last ~= nil then
    if s.slot > last then code = 4 end
  elseif not (seen ~= nil and s.slot < seen) then
    code = 4
  end
  if code == nil then
    local member = coveringRange(KEYS[5], s.slot)
    if not member and beforeSeen and s.slot < seen and not s.held then
      if claim then
        claimedBeforeSeen = true
      else
        -- Written as a range once, so that the slots published from it are cut out like any other's.
        addRange(KEYS[5], math.min(0, s.slot), seen - 1)
        redis.call('HSET', KEYS[4], ARGV[4], 0)
        member = coveringRange(KEYS[5], s.slot)
      end
      beforeSeen, floor = false, 0
    end
    -- A slot the overlap policy holds in the region before `seen` writes no range: it stays passed over.
    local passedOver = member or (claimedBeforeSeen and s.slot < seen) or (s.overlap and beforeSeen and s.slot < seen)
    if passedOver and s.held then
      code = s.overlap and 6 or 4
    elseif passedOver then
      if not claim then cutSlot(KEYS[5], member, s.slot) end
      code = 1
    elseif s.slot < floor then
      code = (force and s.overlap) and 6 or (force and not s.held and 1 or 5)
    else
      code = 0
    end
  end
  if code == 1 and not claim then
    lastPublished = s.slot
    local i = s.at
    for _ = 1, s.pushes do
      redis.call('LPUSH', KEYS[tonumber(ARGV[i])], ARGV[i + 1])
      i = i + 2
    end
    for _ = 1, s.channels do
      redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
      i = i + 2
    end
  end
  result[r + 1] = code
  counts[code] = counts[code] + 1
end
if claim then return result end
redis.call('HINCRBY', KEYS[7], 'published', counts[1])
redis.call('HINCRBY', KEYS[7], 'recorded', counts[0])
redis.call('HINCRBY', KEYS[7], 'ahead', counts[4])
redis.call('HINCRBY', KEYS[7], 'unrecorded', counts[5])
redis.call('HINCRBY', KEYS[7], 'excluded', excluded)
redis.call('HINCRBY', KEYS[7], 'overlap', counts[6])
if flags == 'kept' then redis.call('HSET', KEYS[7], 'kept', '1') end
if lastPublished then redis.call('HSET', KEYS[7], 'last', lastPublished) end
redis.call('HSET', KEYS[7], 'through', through, 'total', total, 'entry', ARGV[4])
if ARGV[7] == '1' then
  redis.call('LREM', KEYS[6], 1, ARGV[3])
  redis.call('HSET', KEYS[7], 'done', now)
end
redis.call('EXPIRE', KEYS[7], 3600)
return result
