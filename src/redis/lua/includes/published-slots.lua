--[[
  The record of an entry's published slots, what `beat backfill` checks so that no slot goes out
  twice (src/redis/keys.ts):
    <prefix>:{<name>}:published:<entry>   zset   score and member: a published slot, epoch ms
    <prefix>:{<name>}:published-since     hash   entry → the oldest slot its zset vouches for (0: every slot)
  Written only in the same atomic step that publishes (publish-fenced, commit-fenced, backfill-fenced).
  The zset keeps the newest `keep` slots (DEFAULTS.publishedSlotsKept); when older ones are trimmed,
  `since` moves up to the oldest kept. A record begun for an entry that already had a stored slot
  (published before the record existed) vouches only from its first recorded slot (its lowest, while
  `since` is unset; a backfill pins `since` before it adds a slot below that); one begun for an
  entry that never published vouches for every slot before (0).

  publish-fenced and commit-fenced name an entry's zset from a prefix argument and the entry (all
  under the deployment's hash tag, so in one cluster slot): a batch's entries are not known as KEYS. A zset key holding another type (not tsbeat's doing) is not written
  (redis.pcall): the publish goes on, that entry's record misses the slot, and its backfills are
  refused by backfill-fenced.lua (which checks the type first).

  recordSlots(key, sinceKey, entry, slots, count, firstEver, trim, keep)
      records slots[1..count] (ascending) of `entry` in its zset `key`. firstEver: the entry had no
      stored slot before this step (its record vouches for every slot before: `since` 0). trim: cut
      the zset to its newest `keep` slots now; the publish scripts ask for it once per 100 runs of
      the entry (the run count crossing a multiple of 100), so that the hot path pays one ZADD per
      entry and batch, and a zset holds at most keep + 100 slots between trims.
  vouchedFrom(sinceKey, zsetKey, entry, storedSlot)
      the oldest slot the record vouches for: `since` when set; else 0 for an entry that never
      published a slot (storedSlot nil); else (published before the record began) its lowest
      recorded slot, or storedSlot + 1 when it has recorded none yet.
]]

local function recordSlots(key, sinceKey, entry, slots, count, firstEver, trim, keep)
  local members = {}
  for i = 1, count do
    members[2 * i - 1] = slots[i]
    members[2 * i] = slots[i]
  end
  for i = 1, 2 * count, 1000 do
    local added = redis.pcall('ZADD', key, unpack(members, i, math.min(i + 999, 2 * count)))
    if type(added) == 'table' and added.err then return end
  end
  if firstEver then redis.call('HSETNX', sinceKey, entry, 0) end
  if not trim then return end
  local removed = redis.pcall('ZREMRANGEBYRANK', key, 0, -keep - 1)
  if type(removed) == 'number' and removed > 0 then
    local lowest = redis.call('ZRANGE', key, 0, 0)[1]
    if lowest then redis.call('HSET', sinceKey, entry, lowest) end
  end
end

local function vouchedFrom(sinceKey, zsetKey, entry, storedSlot)
  local since = tonumber(redis.call('HGET', sinceKey, entry))
  if since then return since end
  if storedSlot == nil then return 0 end
  local lowest = redis.call('ZRANGE', zsetKey, 0, 0)[1]
  if lowest then return tonumber(lowest) end
  return storedSlot + 1
end
