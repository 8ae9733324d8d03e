--[[
  publish-fenced: publish due runs and move their state forward, all in one atomic step, and only
  while the caller still holds the leadership fence.

  KEYS[1]      fence key: the token of the current leader (written when it took the lock)
  KEYS[2]      state hash: field = entry name, value = JSON {slot, at, n, id} (or {seen, n} before a first run)
  KEYS[3..]    the broker lists the runs push to (kombu queue lists, any priority step)

  ARGV[1]      fence token of the caller
  ARGV[2]      publish time, epoch ms (time comes in as an argument, never from TIME)
  ARGV[3]      number of runs R
  then, per run, in order:
    entry, slot (epoch ms), task id, P (number of pushes), C (number of channel publishes),
    P pairs: index into KEYS of the list, payload
    C pairs: pub/sub channel (fanout exchanges), payload

  Errors (nothing written): WRONGTYPE when a list key holds another type.

  Returns { status, c1 .. cR }
    status  1 = done; -1 = fenced: the caller is not the leader, nothing was read or written
    c       1 = published, state moved forward
            0 = stale: the stored slot is at or after this one (published before); nothing written
            2 = state moved forward, nothing delivered (the message matched no queue; the caller logs it)
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return { -1 }
end

-- All or nothing: a Lua error does not undo the writes made before it, so a push that would fail
-- (a queue key holding something other than a list) must be found before anything is written.
-- Otherwise a run pushed to its first queue and failing on its second would be pushed to the first
-- again on the retry, and the runs before it in the batch would be published by a call that failed.
for i = 3, #KEYS do
  local kind = redis.call('TYPE', KEYS[i]).ok
  if kind ~= 'list' and kind ~= 'none' then
    return redis.error_reply('WRONGTYPE publish-fenced: ' .. KEYS[i] .. ' holds a ' .. kind .. ', not a list; nothing was published')
  end
end

local now = tonumber(ARGV[2])
local runs = tonumber(ARGV[3])
-- Redis calls from Lua cost far more than the Lua around them, so the script reads all states with
-- HMGET and writes with one multi-value LPUSH per list and one HSET, in chunks that stay well within
-- Lua's stack (unpack), instead of three calls per run.
local CHUNK = 1000

-- Pass 1: where each run's fields are, and the entries involved.
local starts, names, index = {}, {}, {}
local at = 4
for r = 1, runs do
  starts[r] = at
  local entry = ARGV[at]
  if index[entry] == nil then
    names[#names + 1] = entry
    index[entry] = #names
  end
  at = at + 5 + 2 * (tonumber(ARGV[at + 3]) + tonumber(ARGV[at + 4]))
end

-- The stored state of every entry: last slot and run count. A value that is not our JSON (written
-- by hand, say) is read as no state, as state-store.ts reads it; failing on it would fail every
-- batch holding this entry, for good.
local lastSlot, count = {}, {}
for i = 1, #names, CHUNK do
  local chunk = {}
  for j = i, math.min(i + CHUNK - 1, #names) do chunk[#chunk + 1] = names[j] end
  local values = redis.call('HMGET', KEYS[2], unpack(chunk))
  for j = 1, #chunk do
    local stored = values[j]
    if stored then
      lastSlot[chunk[j]] = tonumber(string.match(stored, '"slot":(%-?%d+)'))
      count[chunk[j]] = tonumber(string.match(stored, '"n":(%d+)')) or 0
    end
  end
end

-- Pass 2: each run is fresh only if newer than the entry's last slot, counting the runs before it
-- in this batch (a catch-up batch holds several slots of one entry, in order).
local result = { 1 }
local lists, written, latest = {}, {}, {}
for r = 1, runs do
  local base = starts[r]
  local entry = ARGV[base]
  local slot = tonumber(ARGV[base + 1])
  local pushes = tonumber(ARGV[base + 3])
  local channels = tonumber(ARGV[base + 4])
  local last = lastSlot[entry]
  if last ~= nil and last >= slot then
    result[#result + 1] = 0
  else
    for i = 0, pushes - 1 do
      local key = tonumber(ARGV[base + 5 + 2 * i])
      local list = lists[key]
      if list == nil then
        list = {}
        lists[key] = list
      end
      list[#list + 1] = ARGV[base + 6 + 2 * i]
    end
    for i = 0, channels - 1 do
      local p = base + 5 + 2 * pushes + 2 * i
      redis.call('PUBLISH', ARGV[p], ARGV[p + 1])
    end
    lastSlot[entry] = slot
    count[entry] = (count[entry] or 0) + 1
    -- %.17g keeps every digit of an epoch-ms value (cjson's default of 14 significant digits would
    -- too until the year 5138, but the state is ours to get right).
    latest[entry] = string.format('{"slot":%.17g,"at":%.17g,"n":%d,"id":%s}', slot, now, count[entry], cjson.encode(ARGV[base + 2]))
    if written[entry] == nil then written[entry] = true end
    result[#result + 1] = (pushes + channels > 0) and 1 or 2
  end
end

for key, payloads in pairs(lists) do
  for i = 1, #payloads, CHUNK do
    redis.call('LPUSH', KEYS[key], unpack(payloads, i, math.min(i + CHUNK - 1, #payloads)))
  end
end
local pairsToWrite = {}
for entry, _ in pairs(written) do
  pairsToWrite[#pairsToWrite + 1] = entry
  pairsToWrite[#pairsToWrite + 1] = latest[entry]
  if #pairsToWrite >= 2 * CHUNK then
    redis.call('HSET', KEYS[2], unpack(pairsToWrite))
    pairsToWrite = {}
  end
end
if #pairsToWrite > 0 then redis.call('HSET', KEYS[2], unpack(pairsToWrite)) end

return result
