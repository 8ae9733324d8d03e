--[[
  An entry's stored state (its field's value in the state hash), read and written by the rules of
  src/redis/entry-state-codec.ts, the one place that states them; in short: a flat JSON object
  {slot, seen, at, by, id, g, n, t}, n and t whole numbers 0 .. 2^53-1 (t, the manual runs among n,
  absent = 0), slot/seen/at finite numbers, by/id/g strings (g: the incarnation the state belongs to,
  includes/entry-fence.lua), other members ignored. A value that breaks them is unreadable and reads exactly as a
  missing one (no state: the entry starts afresh), in every script as in the TypeScript reader.

  decodeState(text)         the state as a table {slot, seen, at, by, id, g, n, t}, or nil (missing or unreadable)
  encodeState(state)        its text, members in the codec's order (slot, seen, at, by, id, g, n, t; t only
                            above 0); a count stops at 2^53-1 (countText), so that a state never counts
                            itself unreadable
  storedSlotAndCount(text)  slot (or nil), run count (0 when it has no state), manual runs (nil when
                            none), incarnation g (nil when none) and first sighting `seen` (its text,
                            nil when none) of a stored value: the publish script's per-run read, with a
                            fast path (below)
  countTail(t)              what follows the count in a state with t manual runs: '' or ',"t":<t>'
  DECIMALS[text]            tonumber(text), made once per text and script call (a batch's states and
                            runs share a few slots and counts)
  manualRunState(state, at, id, g)  the text after a manual run (`beat trigger`) of an entry whose state is
                            `state`; g, when given, the incarnation it belongs to (else the state's)

  cjson alone is not the rule: Redis's cjson also takes hexadecimal numbers, leading zeros, "+1",
  Infinity and NaN, control characters inside strings, and anything after a NUL byte, none of which
  JSON.parse takes. isFlatJsonObject checks the text by JSON's grammar first, then cjson decodes it
  (it refuses lone UTF-16 surrogate escapes, which the codec refuses too).
]]

local MAX_RUN_COUNT = 9007199254740991
local HUGE = math.huge
local find, sub, byte = string.find, string.sub, string.byte

-- The position after the JSON string that starts at pos, or nil.
local function jsonStringEnd(text, pos)
  if byte(text, pos) ~= 34 then return nil end
  pos = pos + 1
  while true do
    local _, plain = find(text, '^[^"\\%z\1-\31]*', pos)
    pos = plain + 1
    local c = byte(text, pos)
    if c == 34 then return pos + 1 end
    if c ~= 92 then return nil end -- a control character, or the end of the text
    if find(text, '^["\\/bfnrt]', pos + 1) then
      pos = pos + 2
    elseif find(text, '^u%x%x%x%x', pos + 1) then
      pos = pos + 6
    else
      return nil
    end
  end
end

-- The position after the JSON number that starts at pos, or nil.
local function jsonNumberEnd(text, pos)
  local first, last = find(text, '^%-?%d+', pos)
  if not first then return nil end
  if byte(text, first) == 45 then first = first + 1 end
  if last > first and byte(text, first) == 48 then return nil end -- a leading zero
  pos = last + 1
  local _, fraction = find(text, '^%.%d+', pos)
  if fraction then pos = fraction + 1 end
  local _, exponent = find(text, '^[eE][+-]?%d+', pos)
  if exponent then pos = exponent + 1 end
  return pos
end

local function afterSpace(text, pos)
  local _, last = find(text, '^[ \t\n\r]*', pos)
  return last + 1
end

-- Whether text is one JSON object whose members' values are strings, numbers, true, false or null.
local function isFlatJsonObject(text)
  local pos = afterSpace(text, 1)
  if byte(text, pos) ~= 123 then return false end
  pos = afterSpace(text, pos + 1)
  if byte(text, pos) ~= 125 then
    while true do
      pos = jsonStringEnd(text, pos)
      if not pos then return false end
      pos = afterSpace(text, pos)
      if byte(text, pos) ~= 58 then return false end
      pos = afterSpace(text, pos + 1)
      local c = byte(text, pos)
      if c == 34 then
        pos = jsonStringEnd(text, pos)
      elseif c == 45 or (c and c >= 48 and c <= 57) then
        pos = jsonNumberEnd(text, pos)
      elseif sub(text, pos, pos + 3) == 'true' or sub(text, pos, pos + 3) == 'null' then
        pos = pos + 4
      elseif sub(text, pos, pos + 4) == 'false' then
        pos = pos + 5
      else
        return false
      end
      if not pos then return false end
      pos = afterSpace(text, pos)
      c = byte(text, pos)
      if c == 125 then break end
      if c ~= 44 then return false end
      pos = afterSpace(text, pos + 1)
    end
  end
  return afterSpace(text, pos + 1) > #text
end

-- The text of run count n in a state: it stops at the largest (2^53-1 runs: not in practice), so
-- that a state never counts itself unreadable. Lua writes numbers from 10^14 on in exponent form
-- when it concatenates them (`..`, as the publish script does below that), so those are formatted.
local function countText(n)
  return string.format('%d', math.min(n, MAX_RUN_COUNT))
end

local function isFiniteNumber(v)
  return type(v) == 'number' and v > -HUGE and v < HUGE
end

local function isRunCount(n)
  return type(n) == 'number' and n >= 0 and n <= MAX_RUN_COUNT and n == math.floor(n)
end

local function decodeState(text)
  if not text or not isFlatJsonObject(text) then return nil end
  local ok, raw = pcall(cjson.decode, text)
  if not ok then return nil end
  if not isRunCount(raw.n) then return nil end
  if raw.t ~= nil and not isRunCount(raw.t) then return nil end
  for _, field in ipairs({ 'slot', 'seen', 'at' }) do
    if raw[field] ~= nil and not isFiniteNumber(raw[field]) then return nil end
  end
  for _, field in ipairs({ 'by', 'id', 'g' }) do
    if raw[field] ~= nil and type(raw[field]) ~= 'string' then return nil end
  end
  local t = raw.t
  if t == 0 then t = nil end
  return { slot = raw.slot, seen = raw.seen, at = raw.at, by = raw.by, id = raw.id, g = raw.g, n = raw.n, t = t }
end

local function countTail(t)
  if t == nil or t <= 0 then return '' end
  return ',"t":' .. countText(t)
end

local function encodeState(state)
  local parts = {}
  if state.slot ~= nil then parts[#parts + 1] = string.format('"slot":%.17g', state.slot) end
  if state.seen ~= nil then parts[#parts + 1] = string.format('"seen":%.17g', state.seen) end
  if state.at ~= nil then parts[#parts + 1] = string.format('"at":%.17g', state.at) end
  if state.by ~= nil then parts[#parts + 1] = '"by":' .. cjson.encode(state.by) end
  if state.id ~= nil then parts[#parts + 1] = '"id":' .. cjson.encode(state.id) end
  if state.g ~= nil then parts[#parts + 1] = '"g":' .. cjson.encode(state.g) end
  parts[#parts + 1] = '"n":' .. countText(state.n)
  return '{' .. table.concat(parts, ',') .. countTail(state.t) .. '}'
end

--[[
  The fast path: the forms tsbeat writes most, read by one anchored match each, without a table.
  What they match is a subset of what decodeState reads, with the same slot, count and first
  sighting (the contract test checks this on every value of its table):
    {"slot":S,"seen":X,"at":A,"id":"…","n":N}   a scheduled run's state (publish-fenced, commit-fenced)
    {"slot":S,"at":A,"id":"…","n":N}            the same of an entry with no first sighting kept
    {"seen":X,"n":N}                            a first sighting (record-seen)
  S, A, X and N are whole numbers without a leading zero (so valid JSON numbers), finite in a text
  under 300 bytes (longer ones take the full decode), and N is checked to be a run count; the id's
  bytes are printable ASCII other than the quote, backslash and ']', or of 128 and above (so it is a
  JSON string as it stands). Anything else (a manual run's state, numbers in another notation,
  escapes, spaces, corrupt values) goes through decodeState.
  The patterns are the publish script's per-run cost: they spell classes as ranges ([0-9], not %d,
  and the id's bytes as the ranges they may be in, not the ones they may not), which Lua checks by
  comparisons where a %-class costs two C library calls a byte; and a batch's states share a few
  slots and counts, whose numbers are made once (DECIMALS).
]]
local RUN_WITH_SEEN = '^{"slot":(%-?[1-9][0-9]*),"seen":(%-?[1-9][0-9]*),"at":%-?[1-9][0-9]*,"id":"[#-[^-~ !\128-\255]*","n":([1-9][0-9]*)}$'
local RUN = '^{"slot":(%-?[1-9][0-9]*),"at":%-?[1-9][0-9]*,"id":"[#-[^-~ !\128-\255]*","n":([1-9][0-9]*)}$'
local DECIMALS = setmetatable({}, {
  __index = function(numbers, text)
    local number = tonumber(text)
    numbers[text] = number
    return number
  end,
})

local function storedSlotAndCount(text)
  if not text then return nil, 0 end
  -- A text this short holds no number of 309 digits or more, so none is infinite.
  if #text < 300 then
    local slot, seen, n = string.match(text, RUN_WITH_SEEN)
    if not slot then
      slot, n = string.match(text, RUN)
    end
    if slot then
      n = DECIMALS[n]
      if n <= MAX_RUN_COUNT then return DECIMALS[slot], n, nil, nil, seen end
    else
      seen, n = string.match(text, '^{"seen":(%-?[1-9][0-9]*),"n":([0-9]+)}$')
      if n and (n == '0' or byte(n, 1) ~= 48) then
        n = DECIMALS[n]
        if n <= MAX_RUN_COUNT then return nil, n, nil, nil, seen end
      end
    end
  end
  local state = decodeState(text)
  if not state then return nil, 0 end
  return state.slot, state.n, state.t, state.g, state.seen and string.format('%.17g', state.seen)
end

-- A manual run keeps the entry's slot (it is not a slot) and its first-seen anchor, so that it does
-- not reset when the schedule starts; an entry with neither gets `at` as its anchor.
local function manualRunState(state, at, id, g)
  state = state or { n = 0 }
  local seen = state.seen
  if state.slot == nil and seen == nil then seen = at end
  return encodeState({ slot = state.slot, seen = seen, at = at, by = 'trigger', id = id, g = g or state.g, n = state.n + 1, t = (state.t or 0) + 1 })
end
