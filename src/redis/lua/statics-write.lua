--[[
  statics-write: replace the set of the config file's entry names (which runtime entries may not
  take) when its id (a hash of the names) changed. The leader calls it when it starts leading and
  after a reload.

  KEYS[1]   statics set
  KEYS[2]   statics:id string
  ARGV[1]   the id of the names
  ARGV[2]   "check" (compare the id only) or "write"
  ARGV[3..] the names, with "write"

  Reply   0 the stored set already has this id: nothing written; 1 replaced; -1 the id differs
          (after "check": call again with "write" and the names)
  Errors  WRONGTYPE naming the key when a key holds another type, before anything is written.
  Writes  DEL + SADD of the set (in chunks), SET of the id.
]]
--- @include "key-type"

local SCRIPT = 'statics-write'
local refused = wrongType(SCRIPT, KEYS[1], 'set') or wrongType(SCRIPT, KEYS[2], 'string')
if refused then return refused end
if redis.call('GET', KEYS[2]) == ARGV[1] then return 0 end
if ARGV[2] ~= 'write' then return -1 end
redis.call('DEL', KEYS[1])
local chunk = {}
for i = 3, #ARGV do
  chunk[#chunk + 1] = ARGV[i]
  if #chunk == 1000 or i == #ARGV then
    redis.call('SADD', KEYS[1], unpack(chunk))
    chunk = {}
  end
end
redis.call('SET', KEYS[2], ARGV[1])
return 1
