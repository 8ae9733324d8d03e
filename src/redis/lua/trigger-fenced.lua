--[[
  trigger-fenced: publish one manual run (`beat trigger`) exactly once, only while the caller holds
  the leadership fence. A manual run has its own task id and does not move the entry's schedule:
  the stored slot stays; the run count, last task id and publish time are updated, and `"by":"trigger"`
  says the last run was this manual one (the next scheduled run's state, written whole, drops it).

  KEYS[1]      fence key
  KEYS[2]      state hash (see publish-fenced.lua)
  KEYS[3]      pending trigger requests (list)
  KEYS[4]      confirmation key for this request (`triggered:<task id>`), read by the CLI
  KEYS[5..]    broker lists to push to

  ARGV[1]      fence token
  ARGV[2]      publish time, epoch ms
  ARGV[3]      the request exactly as it sits in the list (removed here, so it runs once)
  ARGV[4]      entry name
  ARGV[5]      task id
  ARGV[6]      P: number of pushes; ARGV[7]: C: number of channel publishes
  then P pairs (index into KEYS, payload) and C pairs (channel, payload)

  Returns  1 published; 0 the request was no longer pending (cancelled or done); -1 fenced
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
-- Redis does not undo writes made before a Lua error: check every target list first, so that a key
-- of the wrong type fails the script before anything was written.
for i = 5, #KEYS do
  local kind = redis.call('TYPE', KEYS[i]).ok
  if kind ~= 'list' and kind ~= 'none' then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' is a ' .. kind .. ', not a queue list')
  end
end
if redis.call('LREM', KEYS[3], 1, ARGV[3]) == 0 then
  return 0
end

local pushes = tonumber(ARGV[6])
local channels = tonumber(ARGV[7])
local at = 8
for i = 1, pushes do
  redis.call('LPUSH', KEYS[tonumber(ARGV[at])], ARGV[at + 1])
  at = at + 2
end
for i = 1, channels do
  redis.call('PUBLISH', ARGV[at], ARGV[at + 1])
  at = at + 2
end

local stored = redis.call('HGET', KEYS[2], ARGV[4])
local state = stored and cjson.decode(stored) or {}
local slot = ''
if type(state.slot) == 'number' then slot = string.format('"slot":%.17g,', state.slot) end
-- An entry that never ran keeps (or, if it has none yet, gets) its first-seen anchor, so that a
-- manual run does not reset when its schedule starts.
local seen = ''
if type(state.seen) == 'number' then
  seen = string.format('"seen":%.17g,', state.seen)
elseif slot == '' then
  seen = string.format('"seen":%s,', ARGV[2])
end
redis.call('HSET', KEYS[2], ARGV[4], string.format('{%s%s"at":%s,"by":"trigger","n":%d,"id":%s}',
  slot, seen, ARGV[2], (tonumber(state.n) or 0) + 1, cjson.encode(ARGV[5])))
redis.call('SET', KEYS[4], ARGV[2], 'EX', 3600)
return 1
