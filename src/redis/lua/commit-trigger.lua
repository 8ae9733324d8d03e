--[[
  commit-trigger: records a manual run the broker confirmed (AMQP): removes the request, updates
  the entry's run count, last task id and publish time (not its slot: a manual run is not a slot),
  and sets the confirmation key the CLI waits for, only while the caller holds the fence. The state
  is written as trigger-fenced.lua writes it (manualRunState, includes/entry-state.lua).

  KEYS[1]      fence key (string)
  KEYS[2]      state hash (includes/entry-state.lua)
  KEYS[3]      pending trigger requests (list)
  KEYS[4]      confirmation key for this request (`triggered:<task id>`)
  KEYS[5]      entries hash: the runtime entries' records (includes/entry-record.lua)

  ARGV[1]      fence token
  ARGV[2]      publish time, epoch ms
  ARGV[3]      the request exactly as it sits in the list
  ARGV[4]      entry name
  ARGV[5]      task id
  ARGV[6]      the entry's revision (as publish-fenced.lua's revision column; '' = not checked;
               '@' .. incarnation: the state's, includes/entry-fence.lua)
  ARGV[7]      optional: why the broker refused the message (returned unroutable, nacked, the
               channel closed on it: the entry's own fault, which a retry would meet again)

  Reply   1 recorded (also when the request was withdrawn meanwhile: the message is out);
         -1 fenced: nothing written (the request stays; the next leader publishes it again, same task id);
          2 superseded: the entry changed since the caller read it: the request is removed and the
          confirmation set (the message is out), but the entry's state is not written
          3 refused (ARGV[7] given): the request is removed, the state left as it was, and the
          confirmation key says "refused: <why>" for the CLI (as trigger-fenced.lua's refusal);
          0 when the request was withdrawn meanwhile (nothing written)
  Errors  WRONGTYPE naming the key when the fence, state, request list or entries holds another type; ERR
          when the publish time is not a number. Both before anything is written.
  Writes  LREM of the request; SET of the confirmation key to the refusal (refused); else HSET of the entry's state: {slot, seen, at, by: "trigger", id, n + 1, t + 1}
          (a missing or unreadable state counts as none: n = 0, seen = the publish time); SET of
          the confirmation key (1 hour expiry).
]]
--- @include "fence"
--- @include "entry-state"
--- @include "entry-record"
--- @include "entry-fence"

local SCRIPT = 'commit-trigger'
local held = fenceHeld(SCRIPT, KEYS[1], ARGV[1])
if held ~= true then return held or -1 end
local refused = wrongType(SCRIPT, KEYS[2], 'hash') or wrongType(SCRIPT, KEYS[3], 'list') or wrongType(SCRIPT, KEYS[5], 'hash')
if refused then return refused end
if ARGV[7] ~= nil and ARGV[7] ~= '' then
  if redis.call('LREM', KEYS[3], 1, ARGV[3]) == 0 then return 0 end
  redis.call('SET', KEYS[4], 'refused: ' .. ARGV[7], 'EX', 3600)
  return 3
end
local now = tonumber(ARGV[2])
if not now then return redis.error_reply('ERR ' .. SCRIPT .. ': the publish time is not a number') end
local g = fenceOf(ARGV[6])
local superseded = ARGV[6] ~= '' and not g and recordFenceRefuses(ARGV[6], redis.call('HGET', KEYS[5], ARGV[4]))
local state = decodeState(redis.call('HGET', KEYS[2], ARGV[4]))
if g then
  state = incarnationFence(ARGV[6], state)
  if state == 'superseded' then superseded, state = true, nil end
end

redis.call('LREM', KEYS[3], 1, ARGV[3])
if not superseded then redis.call('HSET', KEYS[2], ARGV[4], manualRunState(state, now, ARGV[5], g)) end
redis.call('SET', KEYS[4], ARGV[2], 'EX', 3600)
if superseded then return 2 end
return 1
