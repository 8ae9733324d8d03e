--[[
  claim-fenced: the first step of an AMQP publish (the broker is not Redis, so publishing cannot
  happen inside a script). Checks that the caller still holds the leadership fence and which runs
  are newer than the stored state. Writes nothing: a run counts as published only when
  commit-fenced.lua records it, after the broker confirmed it.

  KEYS[1]      fence key: the token of the current leader
  KEYS[2]      state hash: field = entry name, value = JSON {slot, at, n, id} (or {seen, n} before a first run)

  ARGV[1]      fence token of the caller
  ARGV[2]      number of runs R
  then, per run: entry, slot (epoch ms)

  Returns { status, c1 .. cR }
    status  1 = checked; -1 = fenced: the caller is not the leader (nothing else was read)
    c       1 = fresh: publish it; 0 = stale: the stored slot is at or after this one
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return { -1 }
end

local runs = tonumber(ARGV[2])
local result = { 1 }
local at = 3
for _ = 1, runs do
  local entry = ARGV[at]
  local slot = tonumber(ARGV[at + 1])
  at = at + 2
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
