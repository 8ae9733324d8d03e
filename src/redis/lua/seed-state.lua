--[[
  seed-state: cut-over adoption (src/redis/seed-states.ts). An entry's state from what another
  scheduler recorded of its last run (RedBeat's meta, a django row's last_run_at), so that moving
  to tsbeat, or back to it, neither runs a slot again nor skips the next one. The caller decided,
  by slot, which seeds are newer than tsbeat's stored state; this script writes them only while the
  stored state is still what the decision read, so that a run published meanwhile is never undone.

  KEYS[1]      state hash (field = entry name; includes/entry-state.lua)
  KEYS[2]      passed-since (string; includes/passed-ranges.lua): set to 0 when it is unset, the
               state hash was empty, and this call wrote at least one seed and only anchors. Sources
               are read by every replica from its start, so their anchors reached an empty state
               before the first leader's passed-clip, which then found the hash not empty and
               started the record after them: a backfill skipped every slot before them as
               unrecorded, though no scheduler had ever run the rows. A call that writes a seed with
               a slot leaves it unset: the slots before another scheduler's last run are unrecorded
               (it may have skipped them unseen), as the first leader's passed-clip then makes them.
               A later call's slotted seeds find it 0 (another django schema's, RedBeat's read after
               django's): their earlier slots count as published to a backfill, an under-fill.

  ARGV[1]      N, the number of entries; then N quadruples: entry name, the state to write (a
               readable state whose `g` is the incarnation), the incarnation (as in
               includes/entry-fence.lua; '': none known), and `replace`: '' to write only where
               the entry has no state, or a slot (epoch ms) to replace a stored state whose slot
               is at most it and before the seed's

  Reply   per entry in order: 1 = written; 0 = kept what was there
  Errors  WRONGTYPE naming the key when the state or passed-since key holds another type; ERR when N does not match,
          a state to write is not readable or a `replace` is not a number. All before anything is
          written.
  Writes  HSET of the seed where there is no state of the incarnation: none, an unreadable one, one
          of an older incarnation (the entry was deleted and created again), or one without a slot
          (seen, never run; its `seen` is kept), the last only by a seed with a slot: a seed
          without one (an anchor: a never-run django row's date_changed as `seen`) is written only
          where there is no state of the incarnation. With `replace`, HSET over a state of the
          incarnation (or without one, which the entry fence adopts) whose slot is at most `replace`
          and before the seed's: the seed's slot, publish time and incarnation, the stored `seen`
          and manual-run count `t` kept, the count the seed's plus `t` (the other scheduler's count is
          of scheduled runs, and a re-enabled django row's starts again). A state of a newer incarnation, or
          one that moved past `replace`, is kept. SET of passed-since to 0 (KEYS[2], above).
]]
--- @include "key-type"
--- @include "entry-state"
--- @include "entry-fence"

local SCRIPT = 'seed-state'
local refused = wrongType(SCRIPT, KEYS[1], 'hash') or wrongType(SCRIPT, KEYS[2], 'string')
if refused then return refused end
local count = tonumber(ARGV[1])
if not count or #ARGV ~= 1 + 4 * count then
  return redis.error_reply('ERR ' .. SCRIPT .. ': ARGV[1] must be the number of entries, followed by as many quadruples')
end
local seeds = {}
for i = 1, count do
  local base = 4 * (i - 1) + 1
  local seed = decodeState(ARGV[base + 2])
  if not seed then
    return redis.error_reply('ERR ' .. SCRIPT .. ': the state of entry ' .. i .. ' is not a readable state')
  end
  local replace = ARGV[base + 4]
  if replace ~= '' and not tonumber(replace) then
    return redis.error_reply('ERR ' .. SCRIPT .. ': the replace slot of entry ' .. i .. ' is not a number')
  end
  seeds[i] = { name = ARGV[base + 1], value = ARGV[base + 2], state = seed, incarnation = ARGV[base + 3], replace = tonumber(replace) }
end

-- The seed over a stored state of the same incarnation: what tsbeat alone knows is kept.
local function merged(seed, mine)
  return encodeState({ slot = seed.slot, seen = mine.seen, at = seed.at, g = seed.g, n = seed.n + (mine.t or 0), t = mine.t })
end

-- Nothing ran yet (passed-clip.lua's rule for 0): kept only if no seed written carries a slot.
local sinceUnset = redis.call('HLEN', KEYS[1]) == 0 and redis.call('EXISTS', KEYS[2]) == 0
local anchorsOnly, anyWritten = true, false

local written = {}
for i = 1, count do
  local seed = seeds[i]
  local stored = decodeState(redis.call('HGET', KEYS[1], seed.name))
  local mine = stored
  if seed.incarnation ~= '' then mine = incarnationFence('@' .. seed.incarnation, stored) end
  written[i] = 0
  if mine == nil then
    redis.call('HSET', KEYS[1], seed.name, seed.value)
    written[i] = 1
  elseif mine ~= 'superseded' then
    -- A seed without a slot (an anchor: seen, never run) is written only where there is no state.
    local replaceable = seed.state.slot ~= nil
      and (mine.slot == nil or (seed.replace ~= nil and mine.slot <= seed.replace and mine.slot < seed.state.slot))
    if replaceable then
      redis.call('HSET', KEYS[1], seed.name, merged(seed.state, mine))
      written[i] = 1
    end
  end
  if written[i] == 1 then
    anyWritten = true
    if seed.state.slot ~= nil then anchorsOnly = false end
  end
end
if sinceUnset and anyWritten and anchorsOnly then redis.call('SET', KEYS[2], '0') end
return written
