--[[
  redbeat-digest: a slice of RedBeat's schedule with a digest of each entry's definition, so that
  the RedBeat source (src/redbeat/source.ts) finds what Python saved, changed or deleted every
  maxInterval by reading 40 hex digits per entry instead of every definition.

  KEYS[1]   RedBeat's schedule zset (<prefix>:schedule): member = an entry's hash key
  ARGV[1]   first rank, ARGV[2] last rank (ZRANGE's start and stop)

  Reply   {member 1, digest 1, member 2, digest 2, …}: digest = SHA-1 (hex) of the hash's
          `definition` field, or "" when the hash or the field is gone (RedBeat deleted the entry,
          or its hash was evicted).
  Errors  WRONGTYPE naming the key when the schedule key holds another type.
  Writes  nothing. The entries' hash keys are not declared in KEYS (they are known only from the
          zset): RedBeat's keys must be on one Redis server, not a Redis Cluster.
]]
--- @include "key-type"

local refused = wrongType('redbeat-digest', KEYS[1], 'zset')
if refused then return refused end
local out = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2])) do
  out[#out + 1] = member
  local ok, definition = pcall(redis.call, 'HGET', member, 'definition')
  if ok and definition then out[#out + 1] = redis.sha1hex(definition) else out[#out + 1] = '' end
end
return out
