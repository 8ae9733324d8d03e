--[[
  commit-fenced: the last step of an AMQP publish. Records runs the broker confirmed, moving each
  entry's state forward only (a compare-and-set on the slot), and only while the caller still
  holds the leadership fence. The state is written exactly as publish-fenced.lua writes it.

  KEYS[1]      fence key
  KEYS[2]      state hash (see publish-fenced.lua)

  ARGV[1]      fence token of the caller
  ARGV[2]      publish time, epoch ms (time comes in as an argument, never from TIME)
  ARGV[3]      number of runs R
  then, per run: entry, slot (epoch ms), task id

  Returns { status, c1 .. cR }
    status  1 = done; -1 = fenced: nothing was written (the messages are on the broker regardless:
            the next leader may publish the same slots again, with the same task ids)
    c       1 = recorded; 0 = stale: the stored slot was already at or after this one (another
            publish recorded it first); nothing written
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return { -1 }
end

local now = tonumber(ARGV[2])
local runs = tonumber(ARGV[3])
local result = { 1 }
local at = 4
for _ = 1, runs do
  local entry = ARGV[at]
  local slot = tonumber(ARGV[at + 1])
  local id = ARGV[at + 2]
  at = at + 3

  local count = 0
  local fresh = true
  local stored = redis.call('HGET', KEYS[2], entry)
  if stored then
    local state = cjson.decode(stored)
    count = tonumber(state.n) or 0
    if type(state.slot) == 'number' and state.slot >= slot then
      fresh = false
    end
  end
  if fresh then
    redis.call('HSET', KEYS[2], entry,
      string.format('{"slot":%.17g,"at":%.17g,"n":%d,"id":%s}', slot, now, count + 1, cjson.encode(id)))
    result[#result + 1] = 1
  else
    result[#result + 1] = 0
  end
end
return result
