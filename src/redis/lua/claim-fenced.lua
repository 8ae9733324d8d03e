--[[
  claim-fenced: the first step of an AMQP publish (the broker is not Redis, so publishing cannot
  happen inside a script). Checks that the caller still holds the leadership fence and which runs
  are newer than the stored state. Writes nothing: a run counts as published only when
  commit-fenced.lua records it, after the broker confirmed it.

  KEYS[1]      fence key: the token of the current leader
  KEYS[2]      state hash: field = entry name, value = JSON {slot, at, n, id} (or {seen, n} before a first run)

  ARGV[1]      fence token of the caller
  ARGV[2]      how far (ms) a slot may be ahead of this server's clock (TIME): lock.maxClockSkew
  ARGV[3]      number of runs R
  then, per run: entry, slot (epoch ms)

  Returns { status, c1 .. cR }, or { -2, now, slot }
    status  1 = checked; -1 = fenced: the caller is not the leader (nothing else was read);
            -2 = ahead: a slot is further ahead of this server's clock than ARGV[2] (the caller's
            clock is ahead): publish nothing; `now` is TIME in ms, `slot` the first such slot.
            commit-fenced.lua records only runs claimed here, so it never records such a slot.
    c       1 = fresh: publish it; 0 = stale: the stored slot is at or after this one
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return { -1 }
end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local latest = now + tonumber(ARGV[2])

local runs = tonumber(ARGV[3])
local result = { 1 }
local at = 4
for _ = 1, runs do
  local entry = ARGV[at]
  local slot = tonumber(ARGV[at + 1])
  at = at + 2
  if slot > latest then
    return { -2, now, slot }
  end
  local fresh = 1
  local stored = redis.call('HGET', KEYS[2], entry)
  if stored then
    local state = cjson.decode(stored)
    if type(state.slot) == 'number' and state.slot >= slot then
      fresh = 0
    end
  end
  result[#result + 1] = fresh
end
return result
