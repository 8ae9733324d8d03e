--[[
  The record of an entry's passed-over slots: "record the exceptions, not the rule". The schedule
  publishes an entry's slots in order, so every slot of the schedule at or before the entry's stored
  slot L was published, except those the leader passed over (missed past the catch-up policy, skipped
  by an overlap policy, passed while paused). Only those are written, when they happen, never by a
  normal publish (src/redis/keys.ts):
    <prefix>:{<name>}:passed:<entry>   zset   member "<first>:<last>" (epoch ms), score: first. Ranges
                                              that do not overlap; every slot of the schedule in a range
                                              was never published. A backfilled slot is cut out of its range.
    <prefix>:{<name>}:passed-floor     hash   entry → the oldest slot the record speaks for (set when its
                                              oldest ranges were trimmed, or 0 once a backfill wrote the
                                              region before the entry's first sighting as a range)
    <prefix>:{<name>}:passed-open      hash   entry → the fence token of the leader that recorded a range
                                              above the stored slot: a range a new leader may still
                                              publish into (lua/passed-clip.lua cuts it at the stored slot)
    <prefix>:{<name>}:passed-since     string when the first leader that records passed-over slots led
                                              (epoch ms, plus twice the clock skew): slots before it may
                                              have been passed over unrecorded

  memberOf(first, last)           the member of a range
  rangeOf(member)                 first, last of a member
  coveringRange(key, slot)        the member of the range holding `slot`, or nil
  addRange(key, first, last)      records [first, last], merged with the ranges it overlaps or touches
  cutSlot(key, member, slot)      removes `slot` from its range `member` (a backfill published it)
  clipAbove(key, limit)           cuts every range at `limit`: slots after it are no longer passed over
]]

-- Slots are written as whole numbers (string.format: Lua's `..` would write 10^14 and up in exponent form).
local function memberOf(first, last)
  return string.format('%d:%d', first, last)
end

local function rangeOf(member)
  local first, last = string.match(member, '^(%-?%d+):(%-?%d+)$')
  return tonumber(first), tonumber(last)
end

local function coveringRange(key, slot)
  local below = redis.call('ZREVRANGEBYSCORE', key, slot, '-inf', 'LIMIT', 0, 1)[1]
  if not below then return nil end
  local _, last = rangeOf(below)
  if last and last >= slot then return below end
  return nil
end

local function addRange(key, first, last)
  -- Ranges do not overlap, so their ends ascend with their starts: walk down from the last one
  -- starting at or before last + 1 while they reach first - 1.
  while true do
    local member = redis.call('ZREVRANGEBYSCORE', key, last + 1, '-inf', 'LIMIT', 0, 1)[1]
    if not member then break end
    local a, b = rangeOf(member)
    if not a or b < first - 1 then break end
    redis.call('ZREM', key, member)
    if a < first then first = a end
    if b > last then last = b end
  end
  redis.call('ZADD', key, first, memberOf(first, last))
end

local function cutSlot(key, member, slot)
  local first, last = rangeOf(member)
  redis.call('ZREM', key, member)
  if first <= slot - 1 then redis.call('ZADD', key, first, memberOf(first, slot - 1)) end
  if slot + 1 <= last then redis.call('ZADD', key, slot + 1, memberOf(slot + 1, last)) end
end

local function clipAbove(key, limit)
  while true do
    local member = redis.call('ZREVRANGEBYSCORE', key, '+inf', '-inf', 'LIMIT', 0, 1)[1]
    if not member then return end
    local first, last = rangeOf(member)
    if not first or last <= limit then return end
    redis.call('ZREM', key, member)
    if first <= limit then
      redis.call('ZADD', key, first, memberOf(first, limit))
      return
    end
  end
end
