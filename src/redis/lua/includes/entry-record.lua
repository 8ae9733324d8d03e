--[[
  A runtime entry's record, the value of its field in the entries hash. The format and its rules
  are in src/redis/entry-record-codec.ts; this is the Lua side of the same codec:
    {"v":<version>,"created":<epoch ms>,"updated":<epoch ms>,"entry":<the entry's JSON>}

  encodeRecord(version, created, updated, entryJson)  the record's text
  recordCreated(text)   `created` of a stored record (a number), or nil when the text is not a record
  recordEntry(text)     the entry's JSON text of a stored record, or nil when the text is not a record
  recordVersion(text)   `v` of a stored record (its digits), or nil when the text is not a record
]]
local function encodeRecord(version, created, updated, entryJson)
  return '{"v":' .. string.format('%d', version) .. ',"created":' .. string.format('%d', created) ..
    ',"updated":' .. string.format('%d', updated) .. ',"entry":' .. entryJson .. '}'
end

local function recordParts(text)
  if type(text) ~= 'string' then return nil end
  local _, last, created = string.find(text, '^{"v":%d+,"created":(%-?%d+),"updated":%-?%d+,"entry":')
  if not last or string.sub(text, -1) ~= '}' then return nil end
  return tonumber(created), string.sub(text, last + 1, -2)
end

local function recordCreated(text)
  local created = recordParts(text)
  return created
end

local function recordEntry(text)
  local _, entry = recordParts(text)
  return entry
end

local function recordVersion(text)
  if type(text) ~= 'string' then return nil end
  return string.match(text, '^{"v":(%d+),')
end
