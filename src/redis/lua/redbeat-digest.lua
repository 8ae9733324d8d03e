--[[
  redbeat-digest: a slice of RedBeat's schedule with a digest of each entry's definition and its
  incarnation, so that the RedBeat source (src/redbeat/source.ts) finds what Python saved, changed,
  deleted or deleted and saved again every maxInterval by reading a few bytes per entry instead of
  every definition.

  KEYS[1]   RedBeat's schedule zset (<prefix>:schedule): member = an entry's hash key
  ARGV[1]   first rank, ARGV[2] last rank (ZRANGE's start and stop)
  ARGV[3]   the hash field of tsbeat's incarnation marker (src/redbeat/keys.ts REDBEAT_INCARNATION_FIELD)

  Reply   {member 1, digest 1, incarnation 1, member 2, …}: digest = SHA-1 (hex) of the hash's
          `definition` field, or "" when the hash or the field is gone (RedBeat deleted the entry,
          or its hash was evicted); incarnation = the marker's value, "" with an empty digest.
  Errors  WRONGTYPE naming the key when the schedule key holds another type.
  Writes  The marker, on a hash with a definition and no marker: TIME in microseconds (digits). RedBeat
          has no creation mark of its own; its delete() removes the whole hash (DEL) and its save()
          writes `definition` (and `meta` if absent) into what is there, so a marker written at the
          first look after a save lives exactly as long as that incarnation of the entry, and one
          written later (after a delete and a save) is greater. The entries' hash keys are not
          declared in KEYS (they are known only from the zset): RedBeat's keys must be on one Redis
          server, not a Redis Cluster.
]]
--- @include "key-type"

local refused = wrongType('redbeat-digest', KEYS[1], 'zset')
if refused then return refused end
-- Before Redis 5 a script that reads TIME may write only under effects replication.
redis.replicate_commands()
local stamp
local out = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2])) do
  out[#out + 1] = member
  local ok, values = pcall(redis.call, 'HMGET', member, 'definition', ARGV[3])
  if ok and values[1] then
    local marker = values[2]
    if not marker then
      if not stamp then
        local time = redis.call('TIME')
        stamp = time[1] .. string.format('%06d', tonumber(time[2]))
      end
      marker = stamp
      redis.call('HSET', member, ARGV[3], marker)
    end
    out[#out + 1] = redis.sha1hex(values[1])
    out[#out + 1] = marker
  else
    out[#out + 1] = ''
    out[#out + 1] = ''
  end
end
return out
