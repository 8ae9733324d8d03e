--[[
  A runtime entry's record, the value of its field in the entries hash. The format and its rules
  are in src/redis/entry-record-codec.ts; this is the Lua side of the same codec:
    {"v":<version>,"i":<incarnation>,"created":<epoch ms>,"updated":<epoch ms>,"entry":<the entry's JSON>}
  ("i" is absent from records written before incarnations: theirs is "c<created>", kept by edits.)

  encodeRecord(version, incarnation, created, updated, entryJson)  the record's text (incarnation
                        nil: the form without "i", for an edit of such a record)
  recordCreated(text)   `created` of a stored record (a number), or nil when the text is not a record
  recordIncarnation(text)  `i` of a stored record (a number), or nil when it has none or is not a record
  recordEntry(text)     the entry's JSON text of a stored record, or nil when the text is not a record
  recordVersion(text)   `v` of a stored record (its digits), or nil when the text is not a record: the
                        revision a publish script checks a run of the entry against
]]
local function encodeRecord(version, incarnation, created, updated, entryJson)
  local i = ''
  if incarnation then i = '"i":' .. string.format('%d', incarnation) .. ',' end
  return '{"v":' .. string.format('%d', version) .. ',' .. i .. '"created":' .. string.format('%d', created) ..
    ',"updated":' .. string.format('%d', updated) .. ',"entry":' .. entryJson .. '}'
end

-- created, the entry's JSON text and the incarnation (nil when the record has none), or nil.
local function recordParts(text)
  if type(text) ~= 'string' or string.sub(text, -1) ~= '}' then return nil end
  local _, last, incarnation, created = string.find(text, '^{"v":%d+,"i":(%d+),"created":(%-?%d+),"updated":%-?%d+,"entry":')
  if not last then
    _, last, created = string.find(text, '^{"v":%d+,"created":(%-?%d+),"updated":%-?%d+,"entry":')
    if not last then return nil end
  end
  return tonumber(created), string.sub(text, last + 1, -2), tonumber(incarnation)
end

local function recordCreated(text)
  local created = recordParts(text)
  return created
end

local function recordIncarnation(text)
  local _, _, incarnation = recordParts(text)
  return incarnation
end

local function recordEntry(text)
  local _, entry = recordParts(text)
  return entry
end

local function recordVersion(text)
  if type(text) ~= 'string' then return nil end
  return string.match(text, '^{"v":(%d+),')
end
