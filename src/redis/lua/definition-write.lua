--[[
  definition-write: replace the recorded definition of the config the leader runs (what `beat plan
  --config` compares another config with) when its digest changed. The leader calls it when it
  starts leading and after a reload, first with "check" (one small reply: most starts change
  nothing), then with "write" and the fields (definition-codec.ts) only when the digest differs.

  KEYS[1]   definition hash
  ARGV[1]   the digest of the definition
  ARGV[2]   "check" (compare the digest only) or "write"
  ARGV[3..] with "write": field, value, field, value… (the digest among them)

  Reply   0 the stored hash already has this digest: nothing written; 1 replaced; -1 the digest
          differs (after "check": call again with "write" and the fields)
  Errors  WRONGTYPE naming the key when it holds another type, before anything is written.
  Writes  DEL + HSET of the hash (one hash: a reader sees the old definition or the new one whole).
]]
--- @include "key-type"

local SCRIPT = 'definition-write'
local refused = wrongType(SCRIPT, KEYS[1], 'hash')
if refused then return refused end
if redis.call('HGET', KEYS[1], 'digest') == ARGV[1] then return 0 end
if ARGV[2] ~= 'write' then return -1 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
return 1
