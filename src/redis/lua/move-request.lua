--[[
  move-request: `beat partitions set` moves a pending request about an entry (a manual run of
  `beat trigger`, a `beat backfill`) from the list of the partition the entry was in to the list of
  the partition it is in under the new count, with what is recorded of it (a manual run's
  confirmation, a backfill's progress), so that the new partition's leader acts on it
  (src/redis/partition-move.ts). Under both partitions' fences, as move-entries.lua. Idempotent: a
  request no longer in the source list is not pushed again.

  KEYS[1]   the source partition's fence
  KEYS[2]   the destination partition's fence
  KEYS[3]   the source list (triggers or backfills)
  KEYS[4]   the destination list
  KEYS[5]   the source key of what is recorded of the request (triggered:<id>, backfill:<id>)
  KEYS[6]   the destination key of it

  ARGV[1]   the source fence's token
  ARGV[2]   the destination fence's token
  ARGV[3]   the request, as the list holds it

  Reply   1 moved; 0 not in the source list (moved before, or taken); -1 fenced, nothing written
  Errors  WRONGTYPE naming a list that holds another type, before anything is written.
  Writes  LREM of one copy from the source list, RPUSH of it to the destination list, and RENAME
          of KEYS[5] to KEYS[6] when KEYS[5] exists (its expiry goes with it).
]]
--- @include "fence"

local SCRIPT = 'move-request'
for _, i in ipairs({ 1, 2 }) do
  local held = fenceHeld(SCRIPT, KEYS[i], ARGV[i])
  if held ~= true then return held or -1 end
end
local refused = wrongType(SCRIPT, KEYS[3], 'list') or wrongType(SCRIPT, KEYS[4], 'list')
if refused then return refused end
if redis.call('LREM', KEYS[3], 1, ARGV[3]) == 0 then return 0 end
redis.call('RPUSH', KEYS[4], ARGV[3])
if redis.call('EXISTS', KEYS[5]) == 1 then redis.call('RENAME', KEYS[5], KEYS[6]) end
return 1
