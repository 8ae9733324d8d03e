--[[
  wrongType(script, key, expected): nil when `key` holds the Redis type `expected` ('string',
  'hash', 'list', …) or nothing; otherwise a WRONGTYPE error reply naming the script and the key,
  for the script to return. Every script checks its keys with it before its first write: Redis
  does not undo the writes made before an error, so a command failing half-way would leave half a
  step done.
]]
local function wrongType(script, key, expected)
  local kind = redis.call('TYPE', key).ok
  if kind ~= expected and kind ~= 'none' then
    return redis.error_reply('WRONGTYPE ' .. script .. ': ' .. key .. ' holds a ' .. kind .. ', not a ' .. expected .. '; nothing was written')
  end
  return nil
end
