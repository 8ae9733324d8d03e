--[[
  passed-clip: run by a new leader before it schedules (redis/passed-slots-store.ts begin). A range
  of passed-over slots recorded above an entry's stored slot (an overlap skip, a pause, bufferAll's
  dropped slots: the old leader moved past them in memory, not yet in the state) is not final: this
  leader plans from the stored slot and may publish into it (by its catch-up policy). So every such
  range is cut at the stored slot now, before this leader publishes anything: the slots after it
  count as published to a backfill once the schedule moves past them (an under-fill, never a
  duplicate), unless this leader passes them over again and records that. Also sets passed-since
  (first writer wins): from then on passed-over slots are recorded; 0 when the state hash is empty
  (a new deployment: no entry ever ran, so none had a slot passed over unrecorded).

  KEYS[1]      fence key (string)
  KEYS[2]      state hash (includes/entry-state.lua)
  KEYS[3]      passed-open hash
  KEYS[4]      passed-since (string)
  KEYS[5..]    the passed zsets of ARGV[3..]'s entries

  ARGV[1]      fence token of the caller
  ARGV[2]      passed-since to set when unset (and the state hash is not empty): now plus twice the
               clock skew (epoch ms)
  ARGV[3..]    entries of the open hash to clip (the caller reads it in chunks with HSCAN); marks
               written under the caller's own token stay (ranges this leader recorded itself)

  Reply   { 1, clipped } or { -1 } fenced: nothing written
  Errors  WRONGTYPE naming the key when a key holds another type; before anything is written.
  Writes  the ranges above each entry's stored slot cut (all of them for an entry with no state);
          HDEL of the open marks handled; SET of passed-since when unset.
]]
--- @include "fence"
--- @include "entry-state"
--- @include "passed-ranges"

local SCRIPT = 'passed-clip'
local held = fenceHeld(SCRIPT, KEYS[1], ARGV[1])
if held ~= true then return held or { -1 } end
local refused = wrongType(SCRIPT, KEYS[2], 'hash') or wrongType(SCRIPT, KEYS[3], 'hash') or wrongType(SCRIPT, KEYS[4], 'string')
if refused then return refused end
if not tonumber(ARGV[2]) or #KEYS ~= 4 + (#ARGV - 2) then
  return redis.error_reply('ERR ' .. SCRIPT .. ': ARGV[2] must be a number, with a key per entry')
end
for i = 5, #KEYS do
  refused = wrongType(SCRIPT, KEYS[i], 'zset')
  if refused then return refused end
end
if redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('SET', KEYS[4], redis.call('HLEN', KEYS[2]) == 0 and '0' or ARGV[2])
end
local clipped = 0
for i = 3, #ARGV do
  local entry = ARGV[i]
  local mark = redis.call('HGET', KEYS[3], entry)
  if mark and mark ~= ARGV[1] then
    -- The stored slot of whatever incarnation: a newer one's state is not this record's concern,
    -- and an older one's slot only keeps more of the range (its slots are the record's, not the new one's).
    local stored = decodeState(redis.call('HGET', KEYS[2], entry))
    clipAbove(KEYS[4 + i - 2], stored and stored.slot or -1)
    redis.call('HDEL', KEYS[3], entry)
    clipped = clipped + 1
  end
end
return { 1, clipped }
