--[[
  redbeat-lock: takes, keeps or gives back RedBeat's beat lock (<prefix>:lock) for tsbeat's leader,
  so that a RedBeat beat started by mistake waits instead of publishing too. RedBeat takes the lock
  with redis-py's Lock: SET <key> <token> NX PX <timeout> (its acquire), renewed by PEXPIRE while
  the value is still its token (LUA_EXTEND_TO_SCRIPT in redbeat/schedulers.py); the same value
  semantics here, with tsbeat's own token.

  KEYS[1]   the lock key
  ARGV[1]   tsbeat's token, ARGV[2] the expiry in ms, ARGV[3] "hold" or "release"

  Reply   hold: 1 when held by this token now (taken or renewed); the holder's value when another
          holder has it (an earlier tsbeat leader's until it expires, or a RedBeat beat's).
          release: 1 when deleted, 0 when the token was not (or no longer) ours.
  Errors  WRONGTYPE naming the key when the lock key holds another type, before any write.
  Writes  hold: SET NX PX, or PEXPIRE of our own value. release: DEL of our own value.
]]
--- @include "key-type"

local refused = wrongType('redbeat-lock', KEYS[1], 'string')
if refused then return refused end
local current = redis.call('GET', KEYS[1])
if ARGV[3] == 'release' then
  if current == ARGV[1] then
    redis.call('DEL', KEYS[1])
    return 1
  end
  return 0
end
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return current
