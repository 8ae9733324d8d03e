--[[
  The runtime entries' partition index (keys.ts entriesPartition): with a recorded partition count
  N > 1, one set per partition p of N holding the names of the stored entries in p, at the key
  `<head><N>:<p>`, so that a replica taking partitions on reads their names and records alone
  instead of every record of the store. The scripts that add or remove entries keep the index of
  every count writers must keep (indexedCounts) in the same step, computing each name's partition
  themselves: a writer need not know the count, and one that runs during `beat partitions set`
  keeps the index of the count the move goes to as well.

  indexedCounts(partitioning)   the counts (> 1) whose index is kept, read from the partitioning hash
                                (lua/partition-count.lua): its `count` and its `to`; none when nothing
                                is recorded (the first `beat run` records it; the first read of the
                                index builds it, lua/entries-index.lua)
  entryIndexKey(head, count, p) the key of partition p's set
  entryPartition(name, count)   the name's partition: CRC-32 of its bytes modulo count (core/partition.ts)
  indexCall(command, key, names)  SADD or SREM of `names` (a list of any length) at `key`, 1,000 a
                                call (unpack's stack); the reply's counts added up
]]
--- @include "crc32"

local function indexedCounts(partitioning)
  local recorded = redis.call('HMGET', partitioning, 'count', 'to')
  local counts = {}
  for _, text in ipairs({ recorded[1], recorded[2] }) do
    local count = text and tonumber(text)
    if count and count > 1 and counts[#counts] ~= count then counts[#counts + 1] = count end
  end
  return counts
end

local function entryIndexKey(head, count, p)
  return head .. string.format('%d', count) .. ':' .. string.format('%d', p)
end

local function entryPartition(name, count)
  return crc32(name) % count
end

local function indexCall(command, key, names)
  local n = 0
  for from = 1, #names, 1000 do
    n = n + redis.call(command, key, unpack(names, from, math.min(#names, from + 999)))
  end
  return n
end
