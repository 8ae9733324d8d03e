--[[
  claim-trigger: the first step of publishing a manual run (`beat trigger`) through an AMQP broker.
  Checks the fence and that the request is still pending; commit-trigger.lua removes the request
  after the broker confirmed the message. Does not read the entry's state.

  KEYS[1]      fence key (string)
  KEYS[2]      pending trigger requests (list)
  KEYS[3]      stop key: while it exists (`beat pause --all`) nothing may be published (includes/stop.lua)

  ARGV[1]      fence token
  ARGV[2]      the request exactly as it sits in the list

  Reply   1 pending: publish it; 0 no longer pending (cancelled or done); -1 fenced; -3 stopped:
          the deployment is stopped (KEYS[3] exists): publish nothing, the request stays pending
  Errors  WRONGTYPE naming the key when the fence or the request list holds another type.
  Writes  nothing.
]]
--- @include "fence"
--- @include "stop"

local SCRIPT = 'claim-trigger'
local held = fenceHeld(SCRIPT, KEYS[1], ARGV[1])
if held ~= true then return held or -1 end
if deploymentStopped(KEYS[3]) then return -3 end
local refused = wrongType(SCRIPT, KEYS[2], 'list')
if refused then return refused end
-- The list holds the few requests waiting for a leader; a scan is cheap (and needs no LPOS, Redis 6.0.6+).
for _, request in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  if request == ARGV[2] then
    return 1
  end
end
return 0
