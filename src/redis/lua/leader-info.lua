--[[
  leader-info: the leader rewrites the config fingerprint in its leader record (after a reload),
  only while it still holds the fence, so that a deposed leader never overwrites the record of the
  instance that took over. Does not read the entries' state.

  KEYS[1]      fence key (string: the token of the instance that last took the lock)
  KEYS[2]      leader hash
  ARGV[1]      the caller's fence token
  ARGV[2..]    field, value, field, value, … (configHash, entriesHash, entryCount, entryNames)

  Reply   1 when written, 0 when the caller no longer holds the fence (nothing written).
  Errors  WRONGTYPE naming the key when the fence or leader key holds another type (nothing written).
  Writes  HDEL of entryNames first (a config with too many entries to list publishes none), then HSET of the pairs.
]]
--- @include "fence"

local SCRIPT = 'leader-info'
local held = fenceHeld(SCRIPT, KEYS[1], ARGV[1])
if held ~= true then return held or 0 end
local refused = wrongType(SCRIPT, KEYS[2], 'hash')
if refused then return refused end
redis.call('HDEL', KEYS[2], 'entryNames')
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
return 1
