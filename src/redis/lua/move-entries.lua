--[[
  move-entries: `beat partitions set` moves entries' records from the keys of the partition they were
  in to those of the partition they are in under the new count (src/redis/partition-move.ts), each
  entry's all at once, so that at any moment an entry's records are in one place only. Run under
  both partitions' fences, which `beat partitions set` holds (it took both locks): a leader that
  took either lock since is never written under. Idempotent: an entry already moved has nothing
  left at the source, and moving nothing changes nothing.

  KEYS[1]      the source partition's fence
  KEYS[2]      the destination partition's fence
  KEYS[3]      the source's passed-since (string)
  KEYS[4]      the destination's passed-since
  KEYS[5..]    H pairs (source, destination) of hashes with a field per entry, the state hash first
               (includes/entry-state.lua); then S pairs of sets with the entry as a member; then, for
               each entry in the order of ARGV[8..], K pairs of the entry's own keys (any type)

  ARGV[1]      the source fence's token
  ARGV[2]      the destination fence's token
  ARGV[3]      H (at least 1: the state hash)
  ARGV[4]      S
  ARGV[5]      K
  ARGV[6]      the passed-since the destination takes for an entry moved from a source that has none
               (epoch ms: when the move began, plus twice lock.maxClockSkew)
  ARGV[7]      N, the number of entries
  ARGV[8..]    the entries' names

  Which records win: the source's, unless the destination holds a readable state of the entry with a
  later slot than the source's (records left there by a count changed before counts were recorded):
  then the destination's stay and the source's are deleted. Either way one set of records remains.

  Reply   { moved, kept }: entries whose records were moved, entries whose destination records were
          kept (the source's deleted); { -1 } fenced: another process holds a fence, nothing written
  Errors  WRONGTYPE naming a hash or set key that holds another type; ERR when the counts do not
          match the keys and names given. All before anything is written.
  Writes  per entry: HSET/HDEL of its field in each destination hash and HDEL in each source hash;
          SADD/SREM of it in each destination set and SREM in each source set; RENAME of each own
          key that exists at the source (its expiry goes with it), DEL of the destination's otherwise.
          The destination's passed-since, when set, is raised to the source's (or ARGV[6]) if later.
]]
--- @include "fence"
--- @include "entry-state"

local SCRIPT = 'move-entries'
local H, S, K, N = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[7])
if not H or not S or not K or not N or H < 1 or #KEYS ~= 4 + 2 * H + 2 * S + 2 * K * N or #ARGV ~= 7 + N then
  return redis.error_reply('ERR ' .. SCRIPT .. ': KEYS and ARGV do not match the counts H, S, K and N given')
end
for _, i in ipairs({ 1, 2 }) do
  local held = fenceHeld(SCRIPT, KEYS[i], ARGV[i])
  if held ~= true then return held or { -1 } end
end
local refused = wrongType(SCRIPT, KEYS[3], 'string') or wrongType(SCRIPT, KEYS[4], 'string')
if refused then return refused end
for i = 5, 4 + 2 * H do
  refused = wrongType(SCRIPT, KEYS[i], 'hash')
  if refused then return refused end
end
for i = 5 + 2 * H, 4 + 2 * H + 2 * S do
  refused = wrongType(SCRIPT, KEYS[i], 'set')
  if refused then return refused end
end

local NONE = -math.huge
local function slotOf(state)
  if state == nil or state.slot == nil then return NONE end
  return state.slot
end

local moved, kept = 0, 0
local hashes, sets = 4, 4 + 2 * H
for e = 1, N do
  local name = ARGV[7 + e]
  local own = 4 + 2 * H + 2 * S + 2 * K * (e - 1)
  local there = decodeState(redis.call('HGET', KEYS[hashes + 2], name))
  local here = decodeState(redis.call('HGET', KEYS[hashes + 1], name))
  local keepDestination = there ~= nil and (here == nil or slotOf(there) > slotOf(here))
  for h = 1, H do
    local from, to = KEYS[hashes + 2 * h - 1], KEYS[hashes + 2 * h]
    if not keepDestination then
      local value = redis.call('HGET', from, name)
      if value then redis.call('HSET', to, name, value) else redis.call('HDEL', to, name) end
    end
    redis.call('HDEL', from, name)
  end
  for s = 1, S do
    local from, to = KEYS[sets + 2 * s - 1], KEYS[sets + 2 * s]
    if not keepDestination then
      if redis.call('SISMEMBER', from, name) == 1 then redis.call('SADD', to, name) else redis.call('SREM', to, name) end
    end
    redis.call('SREM', from, name)
  end
  for k = 1, K do
    local from, to = KEYS[own + 2 * k - 1], KEYS[own + 2 * k]
    if keepDestination then
      redis.call('DEL', from)
    elseif redis.call('EXISTS', from) == 1 then
      redis.call('RENAME', from, to)
    else
      redis.call('DEL', to)
    end
  end
  if keepDestination then kept = kept + 1 else moved = moved + 1 end
end

if moved > 0 then
  local since = tonumber(redis.call('GET', KEYS[4]))
  if since then
    local text = redis.call('GET', KEYS[3]) or ARGV[6]
    local theirs = tonumber(text)
    if theirs and theirs > since then redis.call('SET', KEYS[4], text) end
  end
end
return { moved, kept }
