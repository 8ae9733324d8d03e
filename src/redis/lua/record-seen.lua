--[[
  record-seen: records when entries were first seen, for those without a state yet. First writer
  wins, so every replica and every restart agrees on a new entry's anchor.

  KEYS[1]      state hash (field = entry name)
  ARGV[1]      the value to write: '{"seen":<epoch ms>,"n":0}'
  ARGV[2..]    entry names

  Returns, per name in order: 1 = written (a first sighting); 0 = the entry had a state already.
  One script per chunk of names instead of one HSETNX command each: 100,000 commands cost the
  client a command object and a promise apiece.
]]
local written = {}
for i = 2, #ARGV do
  written[i - 1] = redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[1])
end
return written
