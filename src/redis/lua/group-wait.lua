--[[
  group-wait: due runs whose concurrency group is full wait their turn (issue 70;
  runtime/concurrency-gate.ts). Each run's slot is taken in its entry's state as a publish takes it
  (the slot, the time, the task id, the count), and its member added to the waiting zset, in one
  step and only while the caller holds the leadership fence: a slot is then either published by its
  schedule (publish-fenced.lua finds it stale) or waits, never both, across failovers. A waiting
  run is published later by retry-fenced.lua with this zset as its KEYS[5], which removes the member
  in the step that pushes the message: once, whichever leader does it.

  KEYS[1]      fence key (string)
  KEYS[2]      state hash (includes/entry-state.lua)
  KEYS[3]      entries hash: the runtime entries' records (includes/entry-record.lua), for a digits revision
  KEYS[4]      stop key: while it exists (`beat pause --all`) nothing is written (includes/stop.lua)
  KEYS[5]      waiting zset (keys.ts `waiting`; member waiting-codec.ts, score the slot)

  ARGV[1]      fence token
  ARGV[2]      the time the runs were taken, epoch ms (the state's `at`)
  ARGV[3]      how far (ms) a slot may be ahead of this server's clock (TIME): lock.maxClockSkew, as
               publish-fenced.lua's (a leader whose clock is ahead must not take future slots)
  ARGV[4]      N, the number of runs; then per run: entry name, slot (epoch ms), revision (as
               publish-fenced.lua's: '' not checked, digits a record's version, '@' .. incarnation),
               task id, member

  Reply   { 1, c1 .. cN }: c 1 = waits (state moved forward, member added); 0 = stale (the stored slot
          is at or after this one: published or waiting already; nothing written); 2 = superseded (the
          entry fence refuses: edited, deleted or created again since it was read; nothing written).
          { -1 } fenced, { -3 } stopped: nothing written; { -2, now, slot } ahead: a slot is further
          ahead of TIME than ARGV[3] (the caller's clock is ahead), nothing written.
  Errors  WRONGTYPE naming the key when the fence, state hash, entries hash or zset holds another
          type; ERR when N or a slot is not a number. All before anything is written.
  Writes  per waiting run: HSET state entry (slot, its first sighting kept, at, id, g, n + 1, t kept);
          ZADD waiting slot member.
]]
--- @include "fence"
--- @include "stop"
--- @include "entry-state"
--- @include "entry-record"
--- @include "entry-fence"

local SCRIPT = 'group-wait'
local held = fenceHeld(SCRIPT, KEYS[1], ARGV[1])
if held ~= true then return held or { -1 } end
if deploymentStopped(KEYS[4]) then return { -3 } end
local refused = wrongType(SCRIPT, KEYS[2], 'hash') or wrongType(SCRIPT, KEYS[3], 'hash') or wrongType(SCRIPT, KEYS[5], 'zset')
if refused then return refused end
local at, ahead, count = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if not at or not ahead or not count or #ARGV ~= 4 + 5 * count then
  return redis.error_reply('ERR ' .. SCRIPT .. ': ARGV[2], ARGV[3] and ARGV[4] must be numbers, with 5 arguments per run')
end
-- Before Redis 5 a script that reads TIME may write only under effects replication (publish-fenced.lua).
redis.replicate_commands()
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
for r = 1, count do
  local slot = tonumber(ARGV[4 + 5 * (r - 1) + 2])
  if not slot then return redis.error_reply('ERR ' .. SCRIPT .. ': run ' .. r .. "'s slot is not a number") end
  if slot > now + ahead then return { -2, now, slot } end
end

local codes = { 1 }
for r = 1, count do
  local base = 4 + 5 * (r - 1)
  local entry, slot, fence, id, member = ARGV[base + 1], tonumber(ARGV[base + 2]), ARGV[base + 3], ARGV[base + 4], ARGV[base + 5]
  local state = decodeState(redis.call('HGET', KEYS[2], entry))
  local code = 1
  local incarnation = fenceOf(fence)
  if incarnation then
    state = incarnationFence(fence, state)
    if state == 'superseded' then code = 2 end
  elseif fence ~= '' and recordFenceRefuses(fence, redis.call('HGET', KEYS[3], entry)) then
    code = 2
  end
  if code == 1 and state and state.slot and state.slot >= slot then code = 0 end
  if code == 1 then
    local next = {
      slot = slot,
      seen = state and state.seen,
      at = at,
      id = id,
      g = incarnation or (state and state.g),
      n = (state and state.n or 0) + 1,
      t = state and state.t,
    }
    redis.call('HSET', KEYS[2], entry, encodeState(next))
    redis.call('ZADD', KEYS[5], slot, member)
  end
  codes[r + 1] = code
end
return codes
