--[[
  entries-write: create, change and delete runtime entries, all or nothing, under one new version.
  Writers (`beat entries`, the HTTP API, the TypeScript client) check every entry with the config's
  schema before they call this; the scheduler checks each again when it reads it.

  KEYS[1]   entries hash (includes/entry-record.lua)
  KEYS[2]   entries:changes zset: name → version of its last change (deletes stay, as tombstones)
  KEYS[3]   entries:version string: the counter
  KEYS[4]   statics set: the config file's entry names, which a runtime entry may not take
  KEYS[5]   state hash: a deleted entry's stored state is removed with it (so that it starts afresh if
            created again), unless ARGV[2] says to keep it
  KEYS[6]   paused set, KEYS[7] resumed hash: a deleted entry leaves them too, unless ARGV[2] says to
            keep its history (else one created again under its name would start paused)
  KEYS[8]   entries:names zset: every stored name at score 0, for pages in name order (ZRANGEBYLEX)
  KEYS[10]  optional: entries:bytes string, the bytes of the stored names and definitions (JSON), for the
            store's budget (counted again from KEYS[1] when missing or not plain digits)
  KEYS[9]   optional (given when KEYS[10] is): this write's receipt string (entries:receipt:<id>, a new id per write). When it
            exists the write was already applied (ioredis sent it again after its connection died):
            its reply is answered and nothing is written

  ARGV[1]   now, epoch ms (created / updated)
  ARGV[2]   "1" to keep the state of deleted entries (`--keep-history`), "" to remove it
  ARGV[3]   the pub/sub channel to announce a change on; the message is "entries <version>"
  ARGV[4]   N, the number of operations; then N triples (op, name, entry JSON): op "put" (create or
            replace, with the entry's canonical JSON) or "del" (the JSON is ignored), either with
            "@<version>" appended to apply only if the entry's stored version is that one (0: only
            if there is none), for a read-modify-write that must not overwrite a change made meanwhile;
            with KEYS[9], one more: how long the receipt is kept, ms; with KEYS[10], two more: the most
            entries the store may hold and the most bytes (entryLimits.maxEntries, maxStoreBytes)

  Reply   {version, outcome 1, …, outcome N}: version is the counter after the write (unchanged
          when nothing changed), as decimal text; each outcome is "created", "updated", "unchanged", "deleted" or
          "absent" (a delete of a name that is not there).
          {"static", name} when a put names a config-file entry: nothing written.
          {"conflict", name, stored version} when an op's expected version is not the stored one
          (0 = none stored): nothing written.
          {"budget", "entries" or "bytes", the total after the write, the limit} when a write that
          grows the store would take it past a limit of KEYS[10]'s: nothing written (a write that
          does not grow it passes, so that a store over a lowered limit can shrink).
  Errors  WRONGTYPE naming the key when a key holds another type; GARBLED naming KEYS[3] when it
          holds no whole number from 0 to 2^53 - 1 written without a leading zero (something else
          wrote it); ERR when now or N is not a number, or an op is neither put nor del. All before
          anything is written.
  Writes  SET of KEYS[10] (the bytes after the write, when anything changed); HSET / HDEL of the entries (a created entry's incarnation is the new version, an updated one
          keeps its own; includes/entry-record.lua); ZADD of each changed name at the new version; INCR of the
          counter (once, when anything changed); ZADD of created names to / ZREM of deleted ones from
          entries:names; HDEL of deleted entries' states, SREM from paused
          and HDEL from resumed (unless kept);
          PUBLISH "entries <version>" when anything changed; SET of the receipt (JSON of the reply, PX) when
          anything changed and KEYS[9] is given.
]]
--- @include "key-type"
--- @include "entry-record"

local SCRIPT = 'entries-write'
local refused = wrongType(SCRIPT, KEYS[1], 'hash') or wrongType(SCRIPT, KEYS[2], 'zset') or
  wrongType(SCRIPT, KEYS[3], 'string') or wrongType(SCRIPT, KEYS[4], 'set') or wrongType(SCRIPT, KEYS[5], 'hash') or
  wrongType(SCRIPT, KEYS[6], 'set') or wrongType(SCRIPT, KEYS[7], 'hash') or wrongType(SCRIPT, KEYS[8], 'zset') or
  (KEYS[10] and wrongType(SCRIPT, KEYS[10], 'string'))
if refused then return refused end
-- A counter that is no safe integer is refused before anything is written: INCR would fail
-- half-way on one past 64 bits or written with a leading zero, and a Lua number (a double) would
-- round one past 2^53 - 1, which the TypeScript reader refuses too (RedisEntryStore.version).
local counter = redis.call('GET', KEYS[3])
if counter and not ((counter == '0' or string.match(counter, '^[1-9]%d*$')) and #counter <= 16
    and tonumber(counter) <= 9007199254740991) then
  return redis.error_reply('GARBLED ' .. SCRIPT .. ': ' .. KEYS[3] .. ' holds no whole number up to 2^53 - 1; nothing was written')
end
local now = tonumber(ARGV[1])
if not now then return redis.error_reply('ERR ' .. SCRIPT .. ': now is not a number') end
local count = tonumber(ARGV[4])
local receipt = KEYS[9]
local budget = KEYS[10]
if not count or count < 0 or #ARGV ~= 4 + 3 * count + (receipt and 1 or 0) + (budget and 2 or 0) then
  return redis.error_reply('ERR ' .. SCRIPT .. ': ARGV[4] must be the number of (op, name, entry) triples that follow' ..
    (receipt and ', then the receipt\'s lifetime' or ''))
end
-- The same write sent again (its first sending was applied, its reply lost with the connection).
if receipt then
  local kept = redis.call('GET', receipt)
  if kept then return cjson.decode(kept) end
end

-- Check everything, and work out each outcome, before the first write.
-- An op sees the ones before it in this call: a put after a delete of its name creates it again.
-- Redis is called BATCH names at a time (HMGET, then each write command with BATCH members): the
-- call per entry and command cost more than the commands (an import writes 10,000 a call).
local BATCH = 500
local stored = {}
for from = 1, count, BATCH do
  local names = {}
  for i = from, math.min(count, from + BATCH - 1) do names[#names + 1] = ARGV[3 + 3 * i] end
  local texts = redis.call('HMGET', KEYS[1], unpack(names))
  for j = 1, #names do stored[from + j - 1] = texts[j] end
end
-- The config file's names, read whole when there are fewer than ops (else asked name by name).
local statics
if redis.call('SCARD', KEYS[4]) <= count then
  statics = {}
  for _, name in ipairs(redis.call('SMEMBERS', KEYS[4])) do statics[name] = true end
end
local outcomes = {}
local changed = false
local grownEntries, grownBytes = 0, 0
-- The entry's JSON as an earlier op of this call left it (false: deleted), for the names one changed.
local earlier = {}
for i = 1, count do
  local spec, name, json = ARGV[2 + 3 * i], ARGV[3 + 3 * i], ARGV[4 + 3 * i]
  local op, expected = spec, nil
  if spec ~= 'put' and spec ~= 'del' then op, expected = string.match(spec, '^(%a+)@?(%d*)$') end
  local before, entry = earlier[name], nil
  if before == nil then
    before = stored[i]
    if expected and expected ~= '' then
      local current = before and tonumber(recordVersion(before)) or 0
      if current ~= tonumber(expected) then return { 'conflict', name, current } end
    end
    if before then entry = recordEntry(before) end
  else
    -- Changed earlier in this call: its version is not known yet, and counts as 0.
    if expected and expected ~= '' and tonumber(expected) ~= 0 then return { 'conflict', name, 0 } end
    entry = before
  end
  if op == 'put' then
    local static
    if statics then static = statics[name] else static = redis.call('SISMEMBER', KEYS[4], name) == 1 end
    if static then return { 'static', name } end
    if not before then
      outcomes[i] = 'created'
    elseif entry == json then
      outcomes[i] = 'unchanged'
    else
      outcomes[i] = 'updated'
    end
  elseif op == 'del' then
    outcomes[i] = before and 'deleted' or 'absent'
  else
    return redis.error_reply('ERR ' .. SCRIPT .. ': operation ' .. i .. ' is neither put nor del')
  end
  if outcomes[i] ~= 'unchanged' and outcomes[i] ~= 'absent' then changed = true end
  -- What the write adds to the store: entries, and bytes of names and definitions.
  if outcomes[i] == 'created' then
    grownEntries = grownEntries + 1
    grownBytes = grownBytes + #name + #json
  elseif outcomes[i] == 'updated' then
    grownBytes = grownBytes + #json - #(entry or '')
  elseif outcomes[i] == 'deleted' then
    grownEntries = grownEntries - 1
    grownBytes = grownBytes - #name - #(entry or '')
  end
  if op == 'del' then
    earlier[name] = false
  elseif outcomes[i] ~= 'unchanged' then
    earlier[name] = json
  end
end

-- The store's budget: checked before anything is written, kept after.
local storeBytes
if budget and changed then
  local held = redis.call('HLEN', KEYS[1])
  -- Digits only: Lua's tonumber also reads " 5", "0x10", "1e3" and "-1e15", a count that would lift
  -- the budget; anything else is counted again.
  local kept = redis.call('GET', budget)
  storeBytes = kept and #kept <= 15 and string.match(kept, '^%d+$') and tonumber(kept) or nil
  -- An empty store holds no bytes, whatever the counter says (the hash deleted by hand).
  if held == 0 then storeBytes = 0 end
  if not storeBytes then
    storeBytes = 0
    local all = redis.call('HGETALL', KEYS[1])
    for j = 1, #all, 2 do storeBytes = storeBytes + #all[j] + #(recordEntry(all[j + 1]) or '') end
  end
  local base = 4 + 3 * count + (receipt and 1 or 0)
  local maxEntries, maxBytes = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
  if grownEntries > 0 then
    local entries = held + grownEntries
    if entries > maxEntries then return { 'budget', 'entries', entries, maxEntries } end
  end
  if grownBytes > 0 and storeBytes + grownBytes > maxBytes then
    return { 'budget', 'bytes', storeBytes + grownBytes, maxBytes }
  end
end

local version = tonumber(counter or '0')
if changed then
  version = redis.call('INCR', KEYS[3])
  -- Each write command gathers its members and is sent when BATCH are waiting, at the end, and
  -- before an op on a name an earlier op of this call changed (so that one name's ops stay in order).
  local keepState = ARGV[2] == '1'
  local commands = {
    put = { 'HSET', KEYS[1] }, changes = { 'ZADD', KEYS[2] }, named = { 'ZADD', KEYS[8] },
    del = { 'HDEL', KEYS[1] }, unnamed = { 'ZREM', KEYS[8] },
    state = { 'HDEL', KEYS[5] }, paused = { 'SREM', KEYS[6] }, resumed = { 'HDEL', KEYS[7] },
  }
  local function send(command)
    if #command > 2 then
      redis.call(unpack(command))
      for j = #command, 3, -1 do command[j] = nil end
    end
  end
  local function flush()
    for _, command in pairs(commands) do send(command) end
  end
  local function add(command, first, second)
    local n = #command
    command[n + 1] = first
    if second ~= nil then
      command[n + 2] = second
      n = n + 1
    end
    if n + 1 >= 2 + 2 * BATCH then send(command) end
  end
  local vs, nows = string.format('%d', version), string.format('%d', now)
  -- A new entry's record begins the same for every entry of this write.
  local fresh = '{"v":' .. vs .. ',"i":' .. vs .. ',"created":' .. nows .. ',"updated":' .. nows .. ',"entry":'
  -- The record each name has after the ops so far of this call (false: deleted), when one changed it.
  local current = {}
  for i = 1, count do
    local outcome, name, json = outcomes[i], ARGV[3 + 3 * i], ARGV[4 + 3 * i]
    if outcome == 'created' or outcome == 'updated' or outcome == 'deleted' then
      local before = current[name]
      if before ~= nil then
        flush()
      else
        before = stored[i]
      end
      if outcome == 'deleted' then
        current[name] = false
        add(commands.del, name)
        add(commands.changes, vs, name)
        add(commands.unnamed, name)
        if not keepState then
          add(commands.state, name)
          add(commands.paused, name)
          add(commands.resumed, name)
        end
      else
        -- A later put of the same name in this call sees the earlier one's record: created and the
        -- incarnation stay. A new entry's incarnation is this version, which no other write gets.
        local created, _, incarnation = recordParts(before)
        local record
        if created then
          record = encodeRecord(version, incarnation, created, now, json)
        else
          record = fresh .. json .. '}'
        end
        current[name] = record
        add(commands.put, name, record)
        add(commands.changes, vs, name)
        if outcome == 'created' then add(commands.named, '0', name) end
      end
    end
  end
  flush()
  if storeBytes then redis.call('SET', budget, string.format('%d', math.max(0, storeBytes + grownBytes))) end
  redis.call('PUBLISH', ARGV[3], 'entries ' .. version)
end
-- The version as text: an integer reply near 2^53 is misread by ioredis's decoder (it adds each
-- digit after passing 2^53), and the receipt's cjson keeps 14 significant digits.
local reply = { string.format('%d', version) }
for i = 1, count do reply[i + 1] = outcomes[i] end
if receipt and changed then redis.call('SET', receipt, cjson.encode(reply), 'PX', ARGV[5 + 3 * count]) end
return reply
