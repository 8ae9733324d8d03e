--[[
  record-seen: records when entries were first seen, for those without a state yet. First writer
  wins, so every replica and every restart agrees on a new entry's anchor. An unreadable state is
  no state (includes/entry-state.lua): it is replaced by the first sighting, as a missing one is
  written (the state store has logged it, beat.state.unreadable, with its text).

  KEYS[1]      state hash (field = entry name)
  KEYS[2]      entries hash: the runtime entries' records (includes/entry-record.lua)
  KEYS[3]      passed-since (string; includes/passed-ranges.lua): set to 0 by the first sighting
               written when it is unset and the state hash was empty, as passed-clip.lua sets it.
               A session may record sightings before it has cut the record (its lease lost at the
               deployment's start): the next leader's passed-clip then found the hash not empty
               and set passed-since after the sightings, so a backfill skipped every slot before
               them as unrecorded (under-filled).

  ARGV[1]      the value to write, a first sighting: '{"seen":<epoch ms>,"n":0}' (entry-state-codec.ts firstSighting)
  ARGV[2]      N, the number of entries; then N entry names, then N revisions (as publish-fenced.lua's
               revision column: the version of the entry's record it was read from; '' = not checked;
               '@' .. incarnation for an entry with no record: the sighting carries it as `g`, and
               replaces a state of an older incarnation, includes/entry-fence.lua)

  Reply   per name in order: 1 = written (a first sighting, or one replacing an older incarnation's
          state: a re-created entry starts afresh); 0 = the entry had a readable state already (of
          its incarnation, or without one); 2 = superseded: its revision is not the stored record's
          version (deleted, edited or created again since it was read), or its state belongs to a
          newer incarnation: nothing written, so that no state outlives a deleted entry.
  Errors  WRONGTYPE naming the key when the state, entries or passed-since key holds another type;
          ERR when ARGV[1] is not a readable state or N does not match. All before anything is written.
  Writes  HSETNX (HSET over an unreadable value or an older incarnation's state) of ARGV[1] per name
          written, with `"g":<incarnation>` for an '@' revision; SET of passed-since to 0 (KEYS[3]).

  One script per chunk of names instead of one HSETNX command each: 100,000 commands cost the
  client a command object and a promise apiece.
]]
--- @include "key-type"
--- @include "entry-state"
--- @include "entry-record"
--- @include "entry-fence"

local SCRIPT = 'record-seen'
local refused = wrongType(SCRIPT, KEYS[1], 'hash') or wrongType(SCRIPT, KEYS[2], 'hash') or wrongType(SCRIPT, KEYS[3], 'string')
if refused then return refused end
local sighting = decodeState(ARGV[1])
if not sighting then return redis.error_reply('ERR ' .. SCRIPT .. ': the first sighting to write is not a readable state') end
local count = tonumber(ARGV[2])
if not count or #ARGV ~= 2 + 2 * count then
  return redis.error_reply('ERR ' .. SCRIPT .. ': ARGV[2] must be the number of names, followed by as many names and revisions')
end
-- Nothing ran yet, so nothing was passed over unrecorded (passed-clip.lua's rule): set below once a sighting is written.
local sinceUnset = redis.call('HLEN', KEYS[1]) == 0 and redis.call('EXISTS', KEYS[3]) == 0

local written = {}
for i = 1, count do
  local name, revision = ARGV[2 + i], ARGV[2 + count + i]
  local wrote
  local g = fenceOf(revision)
  if g then
    local stored = decodeState(redis.call('HGET', KEYS[1], name))
    local mine = incarnationFence(revision, stored)
    if mine == 'superseded' then
      wrote = 2
    elseif mine == nil then
      redis.call('HSET', KEYS[1], name, encodeState({ seen = sighting.seen, g = g, n = 0 }))
      wrote = 1
    else
      wrote = 0
    end
  elseif revision ~= '' and recordFenceRefuses(revision, redis.call('HGET', KEYS[2], name)) then
    wrote = 2
  else
    wrote = redis.call('HSETNX', KEYS[1], name, ARGV[1])
    if wrote == 0 and not decodeState(redis.call('HGET', KEYS[1], name)) then
      redis.call('HSET', KEYS[1], name, ARGV[1])
      wrote = 1
    end
  end
  written[i] = wrote
  if sinceUnset and wrote == 1 then
    redis.call('SET', KEYS[3], '0')
    sinceUnset = false
  end
end
return written
