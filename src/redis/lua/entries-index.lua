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
  'check'   nothing more. Reply {kept, stored, indexed, building}: kept 1 when writers keep N's index
            (N is the recorded count, or the count a move goes to), else 0; stored: the records (HLEN);
            indexed: the sizes of N's sets added up (a name counts once: a set holds it once, and one
            set only); building 1 while a pass of 'build' is under way, else 0
  'build'   ARGV[3] the records to look at (HSCAN's COUNT). One step of the pass over the records that
            builds N's index, each name found added to its partition's set. The pass is shared: its
            HSCAN cursor is kept at `<head><N>:build` (keys.ts entriesPartitionBuild), so that replicas
            taking partitions on at once each do steps of one pass, never a pass each, and one that
            dies leaves the pass to the others. A step with no pass under way begins one, unless N's
            sets hold as many names as there are records. Reply {'more' | 'done', names added}: 'done'
            when the pass is over (or none was needed); {-1} when writers do not keep N's index (it
            would go out of date): nothing written
  'drop'    ARGV[3..] names read from N's index: those without a record are removed from their set.
            Reply: how many were removed

  Errors  WRONGTYPE naming the key when KEYS[1], KEYS[2], the pass's cursor or a set of N's index it
          would touch holds another type; ERR for an unknown operation, an N that is not a whole
          number from 2, a build without a COUNT. All before anything is written.
  Writes  'build': SADD of the names found to their sets; SET of the pass's cursor, DEL of it when the
          pass is over; 'drop': SREM of the names without a record.
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

-- The sizes of N's sets added up, or nil and the error reply of a key of another type.
local function indexed()
  local n = 0
  for p = 0, count - 1 do
    local key = entryIndexKey(head, count, p)
    local wrong = wrongType(SCRIPT, key, 'set')
    if wrong then return nil, wrong end
    n = n + redis.call('SCARD', key)
  end
  return n, nil
end

local pass = head .. string.format('%d', count) .. ':build'
refused = wrongType(SCRIPT, pass, 'string')
if refused then return refused end

if op == 'check' then
  local n, wrong = indexed()
  if wrong then return wrong end
  return { kept() and 1 or 0, redis.call('HLEN', KEYS[1]), n, redis.call('EXISTS', pass) }
end

if op == 'build' then
  if not tonumber(ARGV[3]) then
    return redis.error_reply('ERR ' .. SCRIPT .. ': build takes the records to look at (ARGV[3])')
  end
  if not kept() then return { -1 } end
  local cursor = redis.call('GET', pass)
  if not cursor then
    local n, wrong = indexed()
    if wrong then return wrong end
    if n >= redis.call('HLEN', KEYS[1]) then return { 'done', 0 } end
    cursor = '0'
  end
  local step = redis.call('HSCAN', KEYS[1], cursor, 'COUNT', ARGV[3])
  local names = {}
  for i = 1, #step[2], 2 do names[#names + 1] = step[2][i] end
  local byKey, keys, wrong = grouped(names)
  if wrong then return wrong end
  local added = 0
  for _, key in ipairs(keys) do added = added + indexCall('SADD', key, byKey[key]) end
  if step[1] == '0' then
    redis.call('DEL', pass)
    return { 'done', added }
  end
  redis.call('SET', pass, step[1])
  return { 'more', added }
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
