--[[
  record-passed: records ranges of slots the leader passed over (includes/passed-ranges.lua), only
  while the caller holds the leadership fence. Not part of any publish: the leader writes them after
  the wake-up that passed them over (redis/passed-slots-store.ts), so a normal publish pays nothing.
  A range lost between (a crash, a failed write) makes a backfill take those slots for published:
  an under-fill, never a duplicate.

  KEYS[1]      fence key (string)
  KEYS[2]      state hash (includes/entry-state.lua)
  KEYS[3]      entries hash: the runtime entries' records (includes/entry-record.lua)
  KEYS[4]      passed-floor hash
  KEYS[5]      passed-open hash
  KEYS[6..5+N] each report's entry's passed zset, in report order

  ARGV[1]      fence token of the caller
  ARGV[2]      how many ranges an entry's zset keeps (DEFAULTS.passedRangesKept)
  ARGV[3]      N, the number of reports; then per report: entry, revision (as publish-fenced.lua's:
               '' = not checked, digits = the record's version, '@' .. incarnation), first slot, last
               slot (epoch ms, first <= last)

  Reply   { 1, c1 .. cN } ci: 1 = recorded; 2 = superseded (the entry changed, was deleted, or its
          state is a newer incarnation's: nothing written, so that no record outlives a deleted
          entry); { -1 } fenced: nothing written (a new leader may already have decided those slots)
  Errors  WRONGTYPE naming the key when a key holds another type; ERR when N or a slot is not a
          number, or a range is reversed. All before anything is written.
  Writes  per recorded report: the range merged into the zset; its oldest ranges beyond ARGV[2]
          removed, the floor raised past them (a backfill then counts those slots unrecorded);
          HSET passed-open entry token when the range ends after the entry's stored slot (the
          schedule has not moved past it yet: a new leader cuts it, lua/passed-clip.lua).
]]
--- @include "fence"
--- @include "entry-state"
--- @include "entry-record"
--- @include "entry-fence"
--- @include "passed-ranges"

local SCRIPT = 'record-passed'
local held = fenceHeld(SCRIPT, KEYS[1], ARGV[1])
if held ~= true then return held or { -1 } end
local refused = wrongType(SCRIPT, KEYS[2], 'hash') or wrongType(SCRIPT, KEYS[3], 'hash')
  or wrongType(SCRIPT, KEYS[4], 'hash') or wrongType(SCRIPT, KEYS[5], 'hash')
if refused then return refused end
local keep, count = tonumber(ARGV[2]), tonumber(ARGV[3])
if not keep or not count or #ARGV ~= 3 + 4 * count or #KEYS ~= 5 + count then
  return redis.error_reply('ERR ' .. SCRIPT .. ': ARGV[2] and ARGV[3] must be numbers, with 4 arguments and a key per report')
end
for r = 1, count do
  local first, last = tonumber(ARGV[3 + 4 * (r - 1) + 3]), tonumber(ARGV[3 + 4 * (r - 1) + 4])
  if not first or not last or first > last then
    return redis.error_reply('ERR ' .. SCRIPT .. ': report ' .. r .. ' has no range first <= last')
  end
  refused = wrongType(SCRIPT, KEYS[5 + r], 'zset')
  if refused then return refused end
end

local result = { 1 }
for r = 1, count do
  local at = 3 + 4 * (r - 1)
  local entry, revision = ARGV[at + 1], ARGV[at + 2]
  local first, last = tonumber(ARGV[at + 3]), tonumber(ARGV[at + 4])
  local stored = decodeState(redis.call('HGET', KEYS[2], entry))
  if fenceOf(revision) then stored = incarnationFence(revision, stored) end
  if stored == 'superseded' or (revision ~= '' and not fenceOf(revision) and recordFenceRefuses(revision, redis.call('HGET', KEYS[3], entry))) then
    result[r + 1] = 2
  else
    local key = KEYS[5 + r]
    addRange(key, first, last)
    local size = redis.call('ZCARD', key)
    if size > keep then
      local oldest = redis.call('ZRANGE', key, 0, size - keep - 1)
      local _, end_ = rangeOf(oldest[#oldest])
      redis.call('ZREMRANGEBYRANK', key, 0, size - keep - 1)
      local floor = tonumber(redis.call('HGET', KEYS[4], entry))
      if not floor or floor < end_ + 1 then redis.call('HSET', KEYS[4], entry, string.format('%d', end_ + 1)) end
    end
    if not (stored and stored.slot ~= nil and stored.slot >= last) then redis.call('HSET', KEYS[5], entry, ARGV[1]) end
    result[r + 1] = 1
  end
end
return result
