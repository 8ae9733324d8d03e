--[[
  record-seen: records when entries were first seen, for those without a state yet. First writer
  wins, so every replica and every restart agrees on a new entry's anchor. An unreadable state is
  no state (includes/entry-state.lua): it is replaced by the first sighting, as a missing one is
  written (the state store has logged it, beat.state.unreadable, with its text).

  KEYS[1]      state hash (field = entry name)

  ARGV[1]      the value to write, a first sighting: '{"seen":<epoch ms>,"n":0}' (entry-state-codec.ts firstSighting)
  ARGV[2..]    entry names

  Reply   per name in order: 1 = written (a first sighting); 0 = the entry had a readable state already.
  Errors  WRONGTYPE naming the key when the state key holds another type; ERR when ARGV[1] is not
          a readable state. Both before anything is written.
  Writes  HSETNX (HSET over an unreadable value) of ARGV[1] per name written.

  One script per chunk of names instead of one HSETNX command each: 100,000 commands cost the
  client a command object and a promise apiece.
]]
--- @include "key-type"
--- @include "entry-state"

local SCRIPT = 'record-seen'
local refused = wrongType(SCRIPT, KEYS[1], 'hash')
if refused then return refused end
if not decodeState(ARGV[1]) then return redis.error_reply('ERR ' .. SCRIPT .. ': the first sighting to write is not a readable state') end

local written = {}
for i = 2, #ARGV do
  local wrote = redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[1])
  if wrote == 0 and not decodeState(redis.call('HGET', KEYS[1], ARGV[i])) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[1])
    wrote = 1
  end
  written[i - 1] = wrote
end
return written
