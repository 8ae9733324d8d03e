--[[
  publish-fenced: publish due runs and move their state forward, all in one atomic step, and only
  while the caller still holds the leadership fence.

  KEYS[1]      fence key (string): the token of the current leader (written when it took the lock)
  KEYS[2]      state hash: field = entry name, value = the entry's state (includes/entry-state.lua)
  KEYS[3]      entries hash: the runtime entries' records (includes/entry-record.lua), for the
               entry fence (the revision column)
  KEYS[4]      stop key: while it exists (`beat pause --all`) nothing is published (includes/stop.lua)
  KEYS[5..]    the broker lists the runs push to (kombu queue lists, any priority step)

  ARGV[1]      every argument below, packed into one MessagePack array of strings, read with Redis's
               built-in cmsgpack in one call (the client sends one argument instead of thousands;
               src/kombu/redis-envelope.ts packArgs). ARGV below is that array:
  ARGV[1]      fence token of the caller
  ARGV[2]      how far (ms) a slot may be ahead of this server's clock (TIME): lock.maxClockSkew
  ARGV[3]      number of runs R
  then four columns of R values each, in run order:
    ARGV[4 .. R+3]         entry names
    ARGV[R+4 .. 2R+3]      slots (epoch ms), as JSON numbers: a new state takes the text as it is
    ARGV[2R+4 .. 3R+3]     each run's new state after its slot and without its run count:
                           '"at":…,"id":"…","n":' (entry-state-codec.ts publishedStateAfterSlot; the
                           script writes '{"slot":' .. slot .. ',' before it, with the stored first
                           sighting '"seen":X,' when there is one, and after it the count, the stored
                           manual-run count t when there is one, and '}'); the publish time comes in
                           here, by the caller's clock; TIME is only the reference for slots ahead
    ARGV[3R+4 .. 4R+3]     each run's revision, the entry fence (includes/entry-fence.lua): the
                           version of the entry's record (KEYS[3]) the caller's definition of it
                           was read from; '@' .. incarnation for an entry with no record there
                           (RedBeat, django: its state's `g` is checked, and its state prefix
                           carries `"g":`); '' for an entry of the config file, not checked
  ARGV[4R+4]   number of delivery groups G, then per group:
    kind       'list' (LPUSH) or 'channel' (PUBLISH, fanout exchanges)
    target     list: index into KEYS; channel: the channel name
    runs       the run numbers (1-based) of the group's payloads, space-separated, in payload order
    M          number of payloads, then M payloads, in run order

  Columns let the script hand ranges of ARGV to HMGET and LPUSH as they are (unpack), without
  building a Lua table per run: Lua work per run is what bounds a burst of thousands.

  Reply  { status, c1 .. cR, k1, t1, k2, t2 … }, or { -2, now, slot }, or { -3 }
    status  1 = done; -1 = fenced: the caller is not the leader, nothing was read or written;
            -3 = stopped: the deployment is stopped (KEYS[4] exists): nothing was published or
            written; the caller keeps the runs due (each entry's catchUp decides on resume);
            -2 = ahead: a slot is further ahead of this server's clock than ARGV[2] (the caller's
            clock is ahead): nothing was written; `now` is TIME in ms, `slot` the first such slot
    c       1 = fresh: state moved forward and the run's payloads delivered (a run with no payload,
                one that matched no queue, moves forward too: the caller knows and logs it)
            0 = stale: the stored slot is at or after this one (published before); nothing written
            2 = superseded: the run's revision is not the stored record's version (the entry was
                edited, deleted or created again since the caller read it), or, for an '@' fence,
                the stored state belongs to a newer incarnation: nothing published or
                written for it; the caller reads the entry again. A state of an older incarnation
                is no state (the new one starts afresh, its first run counts 1). The entry fence: a deleted
                entry's state is never written back, and no run goes out with an old definition
            3 = refused: one of the run's lists (or an earlier run's of the same entry in this
                batch) holds another Redis type, or, for a run with a record revision, the entries
                hash (KEYS[3]) does: none of its payloads went anywhere, its state did not move;
                the other runs go on
         A missing or unreadable state is no state: the entry's first run here is fresh and counts 1.
    k, t    after the R codes: each list key (and the entries hash) that holds another type, and the type (TYPE's name)
  Errors  WRONGTYPE naming the key when the fence or the state hash holds another type
          (the whole deployment's fault: nothing is written); ERR when a slot is not a number. All
          before anything is written: all or nothing.
  Writes  LPUSH / PUBLISH of the fresh runs' payloads; HSET of their states ('{"slot":' .. slot .. ',' ..
          ['"seen":' .. X .. ','] .. state .. n .. [',"t":' .. t] .. '}': the stored state's first sighting X
          kept when it has one).
]]
--- @include "fence"
--- @include "stop"
--- @include "entry-state"
--- @include "entry-record"
--- @include "entry-fence"

local SCRIPT = 'publish-fenced'
local ARGV = cmsgpack.unpack(ARGV[1])
local held = fenceHeld(SCRIPT, KEYS[1], ARGV[1])
if held ~= true then return held or { -1 } end
if deploymentStopped(KEYS[4]) then return { -3 } end
-- Before Redis 5 a script that reads TIME may write only under effects replication, which this turns
-- on (the default from Redis 5, the only mode from 7, where the call does nothing).
redis.replicate_commands()
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local latest = now + tonumber(ARGV[2])

-- A Lua error does not undo the writes made before it, so a push that would fail (a queue key
-- holding something other than a list) must be found before anything is written. Such a key is one
-- entry's fault (its queue names a key of tsbeat's, kombu's or the application's), so it refuses
-- only the runs that push to it. The state hash is the deployment's, and refuses the batch; the
-- entries hash is the runtime entries': another type there refuses their runs only (the config
-- file's carry no record revision and go on), and is listed with the queue keys.
local refused = wrongType(SCRIPT, KEYS[2], 'hash')
if refused then return refused end
local badKey, badKeys = nil, {}
local recordsKind = redis.call('TYPE', KEYS[3]).ok
local recordsRefused = recordsKind ~= 'hash' and recordsKind ~= 'none'
if recordsRefused then
  badKeys[1] = KEYS[3]
  badKeys[2] = recordsKind
end
for i = 5, #KEYS do
  local kind = redis.call('TYPE', KEYS[i]).ok
  if kind ~= 'list' and kind ~= 'none' then
    badKey = badKey or {}
    badKey[i] = true
    badKeys[#badKeys + 1] = KEYS[i]
    badKeys[#badKeys + 1] = kind
  end
end

local runs = tonumber(ARGV[3])
local NAMES = 3
local SLOTS = NAMES + runs
local STATES = SLOTS + runs
local REVISIONS = STATES + runs

-- The runs with a payload for a refused key (a run is refused whole: a payload in one queue and not
-- in another would be a half-published run).
local refusedRun = {}
if badKey then
  local at = REVISIONS + runs + 1
  local groups = tonumber(ARGV[at])
  at = at + 1
  for _ = 1, groups do
    if ARGV[at] == 'list' and badKey[tonumber(ARGV[at + 1])] then
      for run in string.gmatch(ARGV[at + 2], '%d+') do refusedRun[tonumber(run)] = true end
    end
    at = at + 4 + tonumber(ARGV[at + 3])
  end
end
-- Redis calls take at most this many values at once: unpack puts them on Lua's stack.
local CHUNK = 1000

-- The stored state of every entry: last slot, run count and first sighting (storedSlotAndCount: a
-- fast match of the forms tsbeat writes, else the full decode; an unreadable value is no state, as everywhere).
local lastSlot, count, manual, seenOf = {}, {}, {}, {}
for first = 1, runs, CHUNK do
  local last = math.min(first + CHUNK - 1, runs)
  local values = redis.call('HMGET', KEYS[2], unpack(ARGV, NAMES + first, NAMES + last))
  for r = first, last do
    local stored = values[r - first + 1]
    if stored then
      local entry = ARGV[NAMES + r]
      local _
      lastSlot[entry], count[entry], manual[entry], _, seenOf[entry] = storedSlotAndCount(stored)
    end
  end
end

-- The entry fence of entries with no record (an '@' revision): their state's incarnation. A state
-- of an older incarnation is none (decoded whole: the fast path's forms carry no incarnation).
local superseded = {}
for first = 1, runs, CHUNK do
  local last = math.min(first + CHUNK - 1, runs)
  local atFence = {}
  for r = first, last do
    if fenceOf(ARGV[REVISIONS + r]) then atFence[#atFence + 1] = r end
  end
  if #atFence > 0 then
    local names = {}
    for j = 1, #atFence do names[j] = ARGV[NAMES + atFence[j]] end
    local values = redis.call('HMGET', KEYS[2], unpack(names))
    for j = 1, #atFence do
      local r = atFence[j]
      local state = incarnationFence(ARGV[REVISIONS + r], decodeState(values[j]))
      if state == 'superseded' then
        superseded[r] = true
      elseif state == nil then
        -- An older incarnation's state (or none): this one starts afresh.
        lastSlot[names[j]], count[names[j]], manual[names[j]], seenOf[names[j]] = nil, 0, nil, nil
      end
    end
  end
end

-- The entry fence: the runs that carry a record revision (tsbeat's runtime entries), against their stored records.
local checked, c = {}, 0
for r = 1, runs do
  if ARGV[REVISIONS + r] ~= '' and not fenceOf(ARGV[REVISIONS + r]) then
    if recordsRefused then
      refusedRun[r] = true
    else
      c = c + 1
      checked[c] = r
    end
  end
end
for first = 1, c, CHUNK do
  local last = math.min(first + CHUNK - 1, c)
  local names = {}
  for j = first, last do names[j - first + 1] = ARGV[NAMES + checked[j]] end
  local records = redis.call('HMGET', KEYS[3], unpack(names))
  for j = first, last do
    local r = checked[j]
    if recordFenceRefuses(ARGV[REVISIONS + r], records[j - first + 1]) then superseded[r] = true end
  end
end

-- Each run is fresh only if newer than the entry's last slot, counting the runs before it in this
-- batch (a catch-up batch holds several slots of one entry, in order). A slot ahead of this
-- server's clock refuses the whole batch before anything is written: recorded, it would stop every
-- replica with a right clock until their clocks got there.
-- A refused run holds back the later runs of its entry in the batch: recording a later slot would
-- mark the refused one as done.
-- A batch's runs share a few slots and counts: each slot's number (DECIMALS) and each count's text
-- is made once, and a state is built in one concatenation: every string Lua makes is hashed whole,
-- and a number's conversion is a C library call.
local result = { 1 }
local anyStale = false
local blocked = {}
local writes, w = {}, 0
local countTexts = {}
for r = 1, runs do
  local entry = ARGV[NAMES + r]
  local slotText = ARGV[SLOTS + r]
  local slot = DECIMALS[slotText]
  local last = lastSlot[entry]
  if not slot then
    return redis.error_reply('ERR ' .. SCRIPT .. ': the slot of run ' .. r .. ' is not a number')
  elseif slot > latest then
    return { -2, now, slot }
  elseif superseded[r] then
    result[r + 1] = 2
    anyStale = true
  elseif last ~= nil and last >= slot then
    result[r + 1] = 0
    anyStale = true
  elseif refusedRun[r] or blocked[entry] then
    result[r + 1] = 3
    blocked[entry] = true
    anyStale = true
  else
    local n = (count[entry] or 0) + 1
    lastSlot[entry] = slot
    count[entry] = n
    writes[w + 1] = entry
    local nText = countTexts[n]
    if nText == nil then
      nText = countText(n)
      countTexts[n] = nText
    end
    local t = manual[entry]
    local tail = t and countTail(t) or ''
    -- The first sighting stays: a backfill publishes the slots before it (never this incarnation's).
    local seen = seenOf[entry]
    if seen then
      writes[w + 2] = '{"slot":' .. slotText .. ',"seen":' .. seen .. ',' .. ARGV[STATES + r] .. nText .. tail .. '}'
    else
      writes[w + 2] = '{"slot":' .. slotText .. ',' .. ARGV[STATES + r] .. nText .. tail .. '}'
    end
    w = w + 2
    result[r + 1] = 1
  end
end

local at = REVISIONS + runs + 1
local groups = tonumber(ARGV[at])
at = at + 1
for _ = 1, groups do
  local kind, target, members, m = ARGV[at], ARGV[at + 1], ARGV[at + 2], tonumber(ARGV[at + 3])
  local first = at + 4
  if kind == 'list' and badKey and badKey[tonumber(target)] then
    -- Every run with a payload here was refused.
  elseif kind == 'list' then
    local key = KEYS[tonumber(target)]
    if not anyStale then
      for i = first, first + m - 1, CHUNK do
        redis.call('LPUSH', key, unpack(ARGV, i, math.min(i + CHUNK - 1, first + m - 1)))
      end
    else
      -- Some runs are stale, superseded or refused: only the payloads of fresh runs go, still in order.
      local fresh, f, i = {}, 0, first
      for run in string.gmatch(members, '%d+') do
        if result[tonumber(run) + 1] == 1 then
          f = f + 1
          fresh[f] = ARGV[i]
        end
        i = i + 1
      end
      for j = 1, f, CHUNK do
        redis.call('LPUSH', key, unpack(fresh, j, math.min(j + CHUNK - 1, f)))
      end
    end
  else
    local i = first
    for run in string.gmatch(members, '%d+') do
      if result[tonumber(run) + 1] == 1 then redis.call('PUBLISH', target, ARGV[i]) end
      i = i + 1
    end
  end
  at = first + m
end

for i = 1, w, 2 * CHUNK do
  redis.call('HSET', KEYS[2], unpack(writes, i, math.min(i + 2 * CHUNK - 1, w)))
end

for i = 1, #badKeys do result[runs + 1 + i] = badKeys[i] end
return result
