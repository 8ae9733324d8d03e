--[[
  commit-trigger: records a manual run the broker confirmed (AMQP): removes the request, updates
  the entry's run count, last task id and publish time (not its slot: a manual run is not a slot),
  and sets the confirmation key the CLI waits for, only while the caller holds the fence. The state
  is written exactly as trigger-fenced.lua writes it.

  KEYS[1]      fence key
  KEYS[2]      state hash (see publish-fenced.lua)
  KEYS[3]      pending trigger requests (list)
  KEYS[4]      confirmation key for this request (`triggered:<task id>`)

  ARGV[1]      fence token
  ARGV[2]      publish time, epoch ms
  ARGV[3]      the request exactly as it sits in the list
  ARGV[4]      entry name
  ARGV[5]      task id

  Returns  1 recorded (also when the request was withdrawn meanwhile: the message is out);
          -1 fenced: nothing written (the request stays; the next leader publishes it again, same task id)
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
redis.call('LREM', KEYS[3], 1, ARGV[3])

local stored = redis.call('HGET', KEYS[2], ARGV[4])
local state = stored and cjson.decode(stored) or {}
local slot = ''
if type(state.slot) == 'number' then slot = string.format('"slot":%.17g,', state.slot) end
local seen = ''
if type(state.seen) == 'number' then seen = string.format('"seen":%.17g,', state.seen) end
redis.call('HSET', KEYS[2], ARGV[4], string.format('{%s%s"at":%s,"by":"trigger","n":%d,"id":%s}',
  slot, seen, ARGV[2], (tonumber(state.n) or 0) + 1, cjson.encode(ARGV[5])))
redis.call('SET', KEYS[4], ARGV[2], 'EX', 3600)
return 1
