--[[
  entries-index: reads, builds and mends the runtime entries' partition index (includes/entry-index.lua)
  for src/redis/entry-index.ts. The writers of entries (entries-write.lua) keep it; these steps build
  it where it is missing or short (a store written before the index, or before the deployment's count
  was recorded; records written by hand) and drop the names whose record is gone. Each step is one
  atomic look at a name's record and its membership, so that a write in between never leaves a stored
  name out of its set; a step reads a bounded number of records, so that Redis serves others between.

  KEYS[1]   entries hash (includes/entry-record.lua)
  KEYS[2]   partitioning hash (lua/partition-count.lua): only read
  KEYS[3]   the index's head: partition p of N's set is `<head><N>:<p>` (keys.ts entriesPartition; those
            keys share KEYS[1]'s hash tag)

  ARGV[1]   the operation: 'check', 'build' or 'drop'
  ARGV[2]   N, the count whose index is meant (a whole number from 2)
  'check'   nothing more. Reply {kept, stored, indexed}: kept 1 when writers keep N's index (N is the
            recorded count, or the count a move goes to), else 0; stored: the records (HLEN); indexed:
            the sizes of N's sets added up (a name counts once: a set holds it once, and one set only)
  'build'   ARGV[3] an HSCAN cursor ('0' to begin), ARGV[4] its COUNT. One HSCAN step over the records,
            each name found added to its partition's set. Reply {next cursor ('0': the pass is over),
            names added}; {-1} when writers do not keep N's index (it would go out of date): nothing written
  'drop'    ARGV[3..] names read from N's index: those without a record are removed from their set.
            Reply: how many were removed

  Errors  WRONGTYPE naming the key when KEYS[1] or KEYS[2] or a set of N's index it would touch holds
          another type; ERR for an unknown operation, an N that is not a whole number from 2, a build
          without a cursor and COUNT. All before anything is written.
  Writes  'build': SADD of the names found to their sets; 'drop': SREM of the names without a record.
]]
--- @include "key-type"
--- @include "entry-index"

local SCRIPT = 'entries-index'
local refused = wrongType(SCRIPT, KEYS[1], 'hash') or wrongType(SCRIPT, KEYS[2], 'hash')
if refused then return refused end
local op, count = ARGV[1], tonumber(ARGV[2])
if op ~= 'check' and op ~= 'build' and op ~= 'drop' then
  return redis.error_reply('ERR ' .. SCRIPT .. ': ARGV[1] must be check, build or drop, not ' .. tostring(op))
end
if not count or count < 2 or count ~= math.floor(count) then
  return redis.error_reply('ERR ' .. SCRIPT .. ': ARGV[2] must be a partition count from 2, not ' .. tostring(ARGV[2]))
end
local head = KEYS[3]

local function kept()
  for _, c in ipairs(indexedCounts(KEYS[2])) do
    if c == count then return true end
  end
  return false
end

-- The names by their set's key, each key checked once: nil, or the error reply of a key of another type.
local function grouped(names)
  local byKey, keys = {}, {}
  for _, name in ipairs(names) do
    local key = entryIndexKey(head, count, entryPartition(name, count))
    local group = byKey[key]
    if not group then
      local wrong = wrongType(SCRIPT, key, 'set')
      if wrong then return nil, nil, wrong end
      group = {}
      byKey[key] = group
      keys[#keys + 1] = key
    end
    group[#group + 1] = name
  end
  return byKey, keys, nil
end

if op == 'check' then
  local indexed = 0
  for p = 0, count - 1 do
    local key = entryIndexKey(head, count, p)
    refused = wrongType(SCRIPT, key, 'set')
    if refused then return refused end
    indexed = indexed + redis.call('SCARD', key)
  end
  return { kept() and 1 or 0, redis.call('HLEN', KEYS[1]), indexed }
end

if op == 'build' then
  if not ARGV[3] or not tonumber(ARGV[4]) then
    return redis.error_reply('ERR ' .. SCRIPT .. ': build takes an HSCAN cursor and a COUNT (ARGV[3], ARGV[4])')
  end
  if not kept() then return { -1 } end
  local step = redis.call('HSCAN', KEYS[1], ARGV[3], 'COUNT', ARGV[4])
  local names = {}
  for i = 1, #step[2], 2 do names[#names + 1] = step[2][i] end
  local byKey, keys, wrong = grouped(names)
  if wrong then return wrong end
  local added = 0
  for _, key in ipairs(keys) do added = added + indexCall('SADD', key, byKey[key]) end
  return { step[1], added }
end

-- drop
local gone = {}
for i = 3, #ARGV do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 0 then gone[#gone + 1] = ARGV[i] end
end
local byKey, keys, wrong = grouped(gone)
if wrong then return wrong end
local removed = 0
for _, key in ipairs(keys) do removed = removed + indexCall('SREM', key, byKey[key]) end
return removed
