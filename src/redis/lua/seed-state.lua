--[[
  seed-state: the state of entries tsbeat has not run yet, from what another scheduler recorded of
  them (RedBeat's meta: src/redbeat/seed.ts), so that moving to tsbeat neither runs them again at
  once nor skips their next run. tsbeat's own state of the same incarnation always wins.

  KEYS[1]      state hash (field = entry name; includes/entry-state.lua)

  ARGV[1]      N, the number of entries; then N triples: entry name, the state to write (a readable
               state whose `g` is the incarnation), the incarnation (as in includes/entry-fence.lua;
               '': none known, written only where there is no state)

  Reply   per entry in order: 1 = written; 0 = kept what was there
  Errors  WRONGTYPE naming the key when the state key holds another type; ERR when N does not match
          or a state to write is not readable. All before anything is written.
  Writes  HSET of the state where there is none (or an unreadable one), or where the stored one
          belongs to an older incarnation (the entry was deleted and created again). A stored state
          without an incarnation (written before incarnations) is kept, as the entry fence adopts it.
]]
--- @include "key-type"
--- @include "entry-state"
--- @include "entry-fence"

local SCRIPT = 'seed-state'
local refused = wrongType(SCRIPT, KEYS[1], 'hash')
if refused then return refused end
local count = tonumber(ARGV[1])
if not count or #ARGV ~= 1 + 3 * count then
  return redis.error_reply('ERR ' .. SCRIPT .. ': ARGV[1] must be the number of entries, followed by as many triples')
end
for i = 1, count do
  if not decodeState(ARGV[1 + 3 * i - 1]) then
    return redis.error_reply('ERR ' .. SCRIPT .. ': the state of entry ' .. i .. ' is not a readable state')
  end
end
local written = {}
for i = 1, count do
  local name, value, incarnation = ARGV[3 * i - 1], ARGV[3 * i], ARGV[3 * i + 1]
  local stored = decodeState(redis.call('HGET', KEYS[1], name))
  local mine = stored
  if incarnation ~= '' then mine = incarnationFence('@' .. incarnation, stored) end
  if mine == nil then
    redis.call('HSET', KEYS[1], name, value)
    written[i] = 1
  else
    written[i] = 0
  end
end
return written
