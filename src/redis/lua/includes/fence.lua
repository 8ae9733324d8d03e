--[[
  fenceHeld(script, key, token): whether the caller holds the leadership fence: `key` (a string,
  written by the instance that last took the lock) holds `token`. Returns true or false, or a
  WRONGTYPE error reply naming the key when it holds another type, which the script returns as is:

    local held = fenceHeld(SCRIPT, KEYS[1], ARGV[1])
    if held ~= true then return held or <the script's "fenced" reply> end

  One GET either way (pcall, so that the key is named only when the GET fails): the publish
  script's hot path pays nothing for the check.
]]
--- @include "key-type"

local function fenceHeld(script, key, token)
  local value = redis.pcall('GET', key)
  if type(value) == 'table' and value.err then
    return wrongType(script, key, 'string') or redis.error_reply(value.err)
  end
  return value == token
end
