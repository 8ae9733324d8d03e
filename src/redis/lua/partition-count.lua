--[[
  partition-count: the deployment's recorded partition count (src/redis/partition-count-store.ts).
  Recorded by the first `beat run` to start, checked by every start and before every session of a
  leader, and changed only by `beat partitions set`, which records the count it moves to before it
  moves any entry and the new count once every entry has moved, so that no replica leads while the
  entries are on their way (a recorded move refuses every replica).

  KEYS[1]   partitioning hash: count (the recorded count), to (the count a move goes to, while one
            is under way or was interrupted), by, at
  KEYS[2]   the deployment's own state hash ({<name>}:state): with no record, a deployment with state
            there ran with one partition, before counts were recorded

  ARGV[1]   the operation:
            'record'  record ARGV[2] (the caller's configured count) when nothing is recorded
            'begin'   record a move from ARGV[2] to ARGV[3] (ARGV[4] who, ARGV[5] when, epoch ms)
            'finish'  record ARGV[3] as the count, the move from ARGV[2] done (ARGV[4], ARGV[5] as above)
  ARGV[2]   a count (whole number from 1)
  ARGV[3]   with 'begin' and 'finish': the count moved to

  Reply   { ok, count, to }: ok 1 done (or done before: 'begin' of the move recorded, 'finish' of
          one finished), 0 refused because the record says otherwise (another count, or a move to
          another count), nothing written; count and to as recorded after the call (to '' when no move)
  Errors  WRONGTYPE naming KEYS[1] when it holds another type; ERR for an unknown operation or a count
          that is not a whole number from 1. Both before anything is written.
  Writes  every operation: HSET count when there is none (1 when KEYS[2] exists, else ARGV[2]);
          'begin': HSET to, by, at when count is ARGV[2] and no move to another count is recorded;
          'finish': HSET count = ARGV[3], by, at and HDEL to, when count is ARGV[2] and to is ARGV[3]
]]
--- @include "key-type"

local SCRIPT = 'partition-count'
-- KEYS[2] is only looked at (EXISTS): a stray value there is the start's to name, not this script's.
local refused = wrongType(SCRIPT, KEYS[1], 'hash')
if refused then return refused end
local op = ARGV[1]
if op ~= 'record' and op ~= 'begin' and op ~= 'finish' then
  return redis.error_reply('ERR ' .. SCRIPT .. ': ARGV[1] must be record, begin or finish, not ' .. tostring(op))
end
local function isCount(text)
  return text ~= nil and string.match(text, '^[1-9]%d*$') ~= nil and #text <= 9
end
if not isCount(ARGV[2]) or (op ~= 'record' and not isCount(ARGV[3])) then
  return redis.error_reply('ERR ' .. SCRIPT .. ': the counts must be whole numbers from 1')
end

local count = redis.call('HGET', KEYS[1], 'count')
if not count then
  count = redis.call('EXISTS', KEYS[2]) == 1 and '1' or ARGV[2]
  redis.call('HSET', KEYS[1], 'count', count)
end
local to = redis.call('HGET', KEYS[1], 'to') or ''

if op == 'record' then return { 1, count, to } end
local from, target = ARGV[2], ARGV[3]
if op == 'begin' then
  if count ~= from or (to ~= '' and to ~= target) then return { 0, count, to } end
  redis.call('HSET', KEYS[1], 'to', target, 'by', ARGV[4] or '', 'at', ARGV[5] or '')
  return { 1, count, target }
end
-- finish
if count == target and to == '' then return { 1, count, to } end
if count ~= from or to ~= target then return { 0, count, to } end
redis.call('HSET', KEYS[1], 'count', target, 'by', ARGV[4] or '', 'at', ARGV[5] or '')
redis.call('HDEL', KEYS[1], 'to')
return { 1, target, '' }
