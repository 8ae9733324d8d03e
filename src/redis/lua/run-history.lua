--[[
  run-history: records runs in their entries' bounded histories, and keeps the set of entries that
  have a run not final yet, in one atomic step (a reader never sees a history and a pending set
  that disagree, and two leaders overlapping during a failover cannot undo each other's update).
  Records are run-history-codec.ts's JSON; only "id" and "st" are read here.

  KEYS[1]      pending set (entry names with a run not final yet)
  KEYS[2]      finished hash: entry name -> JSON {last: the newest finished record's JSON (a string),
               ok: epoch ms of the last SUCCESS, fail: of the last FAILURE} (run-history-codec.ts decodes it)
  KEYS[3]      failures hash: entry name -> FAILUREs since its last SUCCESS (or its last resume, which deletes it);
               a count that is not plain digits counts afresh
  KEYS[4]      paused set (`beat pause`)
  KEYS[5]      pause notes hash: entry name -> JSON {note, by, at} (why it was paused)
  KEYS[6]      state hash (includes/entry-state.lua), for the entry fence of an '@' revision
  KEYS[7]      entries hash: the runtime entries' records (includes/entry-record.lua), for the
               entry fence of a digits revision
  KEYS[8]      retries zset: each slot's next attempt, scored by when it is due (retry-codec.ts)
  KEYS[9]      dead-letter zset: dead letter id -> when its slot failed for good (keys.ts `deadLetters`)
  KEYS[10]     dead-letter hash: dead letter id -> the item (dead-letter-codec.ts)
  KEYS[11..n]  one history list per run, in ARGV's order (newest first)

  ARGV[1]      mode: 'push' (newly published runs) or 'update' (a run's new state)
  ARGV[2]      the history length to keep
  ARGV[3]      the dead-letter list's bound in items (deadLetters.maxItems), ARGV[4] in bytes of items (deadLetters.maxBytes)
  ARGV[5..]    per run: entry name, task id, record JSON, pauseOnFailure (0 = none), the
               revision its entry was published under (publish-fenced.lua's revision column;
               '' = not checked: the config file's entries, and runs a new leader took over from
               the pending set, whose history an entry's delete removes with it), and the slot's
               next attempt should this record be final ('' = none; else "<due ms> <member>",
               the member retry-codec.ts's JSON), and the slot's dead letter should this record be
               final ('' = none; else "<at ms> <id> <item>", the item dead-letter-codec.ts's JSON)

  The entry fence (includes/entry-fence.lua incarnationHolds): a run whose entry was deleted, or
  deleted and created again, since it was published writes nothing (its reply is 3), so that no
  history, finished summary, failure count or pause outlives a deleted entry or passes to the
  next one of its name. An edit keeps the incarnation: its runs' outcomes are still written.

  push    a run whose id is already in its history is written as an update would be (the publishing
          step wrote its PENDING record, lua/retry-fenced.lua: the tracker's first write, final
          already when the run ended before it, must still land; a write repeated after a lost reply
          rewrites what is there); else the record is pushed
          (LPUSH) and the list trimmed (LTRIM) to the length. A pushed record that is final already
          (a run given up or finished before its first write) goes to the summary as an update's does.
  update  the record with that id is replaced (LSET) unless the stored one is final already (a
          final state never changes, but for a REVOKED that a SUCCESS or FAILURE replaces: Celery
          >= 5.6.2 stores REVOKED the moment a revoke arrives, and a run the revoke did not stop
          stores its own end over it); a run no longer in the history is not written.
          When the written record is final, the entry's finished summary takes it: as `last` when it
          finished (`done`, else `pub`) no earlier than the one there; a SUCCESS moves `ok` and deletes
          the entry's failures count, a FAILURE moves `fail` and adds 1 to it (REVOKED and unknown
          neither). A FAILURE that brings the count to the entry's pauseOnFailure pauses it (SADD to the paused
          set) with its note {note: "N failed runs in a row; the last: <exception>", by:
          "pauseOnFailure", at: its finish}, unless it is paused already.
          A record that becomes final here (pushed final, or written by an update) with a next
          attempt adds it to the retries zset (ZADD NX: once per member), in the same step as the
          outcome: a failover loses no attempt, and a record already final adds none again (nor
          does the SUCCESS or FAILURE that replaces a REVOKED: that run was stopped on purpose).
          Such a record with a dead letter adds it to the dead-letter list (HSETNX: once per id, so a
          replayed outcome or a second leader adds nothing), in the same step; then, while the list
          holds more than its bound in items or in bytes, its oldest item leaves (ZPOPMIN + HDEL),
          counted in the reply.
  Either way the entry is then in the pending set exactly while one of its records is not final.

  Reply   per run in order: 1 = written, 0 = left as it was, 2 = written and the entry paused by it,
          3 = superseded (the entry fence): nothing written for it, the pending set untouched;
          4 = refused: its history list holds another type (nothing written for it; the caller names the key);
          then the dead letters the bound dropped, the dead-letter list's size after this call (-1: not
          read, no dead letter was added), and the (1-based) places of the runs whose dead letter was added
          and is still held after the bound (one added and dropped in this step is counted as dropped only).
  Errors  WRONGTYPE naming the key when a key other than a history list holds another type (the retries zset
          only when a run here schedules an attempt, the dead-letter keys only when one brings a dead
          letter), before anything is written;
          ERR when the arguments are not seven per run, a next attempt is not "<due ms> <member>", or a
          dead letter not "<at ms> <id> <item>".
  Writes  LPUSH + LTRIM (push) or LSET (update) of the history lists; SADD / SREM of the pending set;
          HSET of the finished hash, HINCRBY / HDEL of the failures hash (update of a final record);
          SADD of the paused set and HSET of
          the pause notes (pauseOnFailure reached); ZADD NX of the retries zset (a next attempt);
          HSETNX + ZADD of the dead-letter keys, ZPOPMIN + HDEL of those over the bound.
]]
--- @include "key-type"
--- @include "entry-state"
--- @include "entry-record"
--- @include "entry-fence"

local SCRIPT = 'run-history'
local refused = wrongType(SCRIPT, KEYS[1], 'set') or wrongType(SCRIPT, KEYS[2], 'hash')
  or wrongType(SCRIPT, KEYS[3], 'hash') or wrongType(SCRIPT, KEYS[4], 'set') or wrongType(SCRIPT, KEYS[5], 'hash')
  or wrongType(SCRIPT, KEYS[6], 'hash') or wrongType(SCRIPT, KEYS[7], 'hash')
if refused then return refused end
local PER_RUN, FIRST_RUN, FIRST_LIST = 7, 5, 11
if (#ARGV - FIRST_RUN + 1) ~= PER_RUN * (#KEYS - FIRST_LIST + 1) then
  return redis.error_reply('ERR ' .. SCRIPT .. ': expected seven arguments per run, one run per history key')
end
local maxItems, maxBytes = tonumber(ARGV[3]), tonumber(ARGV[4])
if not maxItems or not maxBytes then return redis.error_reply('ERR ' .. SCRIPT .. ': the dead-letter bounds are not numbers') end
-- Each next attempt and dead letter is read before anything is written: all or nothing.
local retries, letters = {}, {}
for i = FIRST_RUN, #ARGV, PER_RUN do
  if ARGV[i + 5] ~= '' then
    local due, member = string.match(ARGV[i + 5], '^(%d+) (.+)$')
    if not due then return redis.error_reply('ERR ' .. SCRIPT .. ': a next attempt must be "<due ms> <member>"') end
    retries[i] = { due, member }
  end
  if ARGV[i + 6] ~= '' then
    local at, id, item = string.match(ARGV[i + 6], '^(%d+) (%S+) (.+)$')
    if not at then return redis.error_reply('ERR ' .. SCRIPT .. ': a dead letter must be "<at ms> <id> <item>"') end
    letters[i] = { at, id, item }
  end
end
-- The retries zset and the dead-letter keys are checked only when a run here writes to them: one
-- something else wrote does not stop the histories of a deployment that retries nothing.
if next(retries) ~= nil then
  refused = wrongType(SCRIPT, KEYS[8], 'zset')
  if refused then return refused end
end
if next(letters) ~= nil then
  refused = wrongType(SCRIPT, KEYS[9], 'zset') or wrongType(SCRIPT, KEYS[10], 'hash')
  if refused then return refused end
end
-- A history list of another type is its entry's fault alone (something else wrote the key): its
-- run is refused (4), the others' are written.
local wrongList = {}
for i = FIRST_LIST, #KEYS do
  local kind = redis.call('TYPE', KEYS[i]).ok
  if kind ~= 'list' and kind ~= 'none' then wrongList[i] = kind end
end

local FINAL = { SUCCESS = true, FAILURE = true, REVOKED = true, unknown = true }
local mode = ARGV[1]
local length = tonumber(ARGV[2])

local function decoded(text)
  local ok, v = pcall(cjson.decode, text)
  if ok and type(v) == 'table' then return v end
  return nil
end

local function findId(key, id)
  local items = redis.call('LRANGE', key, 0, -1)
  for at, text in ipairs(items) do
    -- Only a record whose text holds the id is decoded: decoding every record of a full history
    -- was most of a push's cost.
    if string.find(text, id, 1, true) then
      local v = decoded(text)
      if v and v.id == id then return at - 1, v end
    end
  end
  return nil, nil
end

local function anyPending(key)
  for _, text in ipairs(redis.call('LRANGE', key, 0, -1)) do
    local v = decoded(text)
    if v and not FINAL[v.st] then return true end
  end
  return false
end

local function finishedAt(v)
  return tonumber(v.done) or tonumber(v.pub) or 0
end

-- The entry's summary of finished runs takes a record that just became final; true when that
-- pauses the entry (pauseOnFailure reached).
local function summarise(entry, v, record, pauseAfter)
  local summary = decoded(redis.call('HGET', KEYS[2], entry) or '') or {}
  local last = type(summary.last) == 'string' and decoded(summary.last) or nil
  local at = finishedAt(v)
  if last == nil or at >= finishedAt(last) then summary.last = record end
  local streak = 0
  if v.st == 'SUCCESS' then
    summary.ok = math.max(tonumber(summary.ok) or 0, at)
    redis.call('HDEL', KEYS[3], entry)
  elseif v.st == 'FAILURE' then
    summary.fail = math.max(tonumber(summary.fail) or 0, at)
    -- A count something else wrote (a word, a fraction, past 64 bits) would fail HINCRBY, and with it
    -- the whole batch: it counts afresh from this failure.
    local held = redis.call('HGET', KEYS[3], entry)
    if held and not (#held <= 15 and string.match(held, '^%d+$')) then redis.call('HDEL', KEYS[3], entry) end
    streak = redis.call('HINCRBY', KEYS[3], entry, 1)
  end
  redis.call('HSET', KEYS[2], entry, cjson.encode(summary))
  if v.st ~= 'FAILURE' or pauseAfter <= 0 or streak < pauseAfter then return false end
  if redis.call('SADD', KEYS[4], entry) == 0 then return false end
  local last = type(v.exc) == 'string' and v.exc or 'FAILURE'
  local note = string.format('%d failed runs in a row (pauseOnFailure %d); the last: %s', streak, pauseAfter, last)
  redis.call('HSET', KEYS[5], entry, cjson.encode({ note = note, by = 'pauseOnFailure', at = at }))
  return true
end

-- Whether the run's entry is still the incarnation it was published for (an '@' revision reads the
-- state, a digits one the record).
local function holds(entry, fence)
  return storedIncarnationHolds(fence, KEYS[6], KEYS[7], entry)
end

-- The runs whose dead letter was added here (their places), read back by the caller for its alert.
local lettered = {}

-- The run's next attempt, or its slot's dead letter, once its record became final here.
local function retryLater(i, run)
  local retry = retries[i]
  if retry then redis.call('ZADD', KEYS[8], 'NX', retry[1], retry[2]) end
  local letter = letters[i]
  if letter and redis.call('HSETNX', KEYS[10], letter[2], letter[3]) == 1 then
    redis.call('ZADD', KEYS[9], letter[1], letter[2])
    lettered[#lettered + 1] = { run, letter[2] }
  end
end

local written = {}
local run = 0
for i = FIRST_RUN, #ARGV, PER_RUN do
  run = run + 1
  local key = KEYS[run + FIRST_LIST - 1]
  local entry, id, record, pauseAfter, fence = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]) or 0, ARGV[i + 4]
  local wrote = 3
  if wrongList[run + FIRST_LIST - 1] then
    wrote = 4
  elseif holds(entry, fence) then
    wrote = 0
    local at, stored = findId(key, id)
    -- A run pushed not final is pending: the entry is, with no need to read its history again.
    local pendingNow = false
    if mode == 'push' and at == nil then
      redis.call('LPUSH', key, record)
      redis.call('LTRIM', key, 0, length - 1)
      wrote = 1
      -- Nearly every push is of a run just published: its codec text says so, with no decoding
      -- (JSON escapes the quotes of that text inside any string value).
      if string.find(record, '"st":"PENDING"', 1, true) then
        pendingNow = true
      else
        local v = decoded(record)
        if v and FINAL[v.st] then
          if summarise(entry, v, record, pauseAfter) then wrote = 2 end
          retryLater(i, run)
        end
      end
    elseif at ~= nil then
      local v = decoded(record)
      local ended = v and (v.st == 'SUCCESS' or v.st == 'FAILURE')
      if not FINAL[stored.st] or (stored.st == 'REVOKED' and ended) then
        redis.call('LSET', key, at, record)
        wrote = 1
        if v and FINAL[v.st] then
          if summarise(entry, v, record, pauseAfter) then wrote = 2 end
          -- A run seen REVOKED was stopped on purpose: the end it stores over that is no cause to run it again.
          if stored.st ~= 'REVOKED' then retryLater(i, run) end
        end
      end
    end
    if pendingNow or anyPending(key) then redis.call('SADD', KEYS[1], entry) else redis.call('SREM', KEYS[1], entry) end
  end
  written[run] = wrote
end

-- The bound: the oldest leave first, while the list holds too many items or too many bytes.
local dropped, size = 0, -1
if #lettered > 0 then
  size = redis.call('ZCARD', KEYS[9])
  local bytes = 0
  for _, held in ipairs(redis.call('ZRANGE', KEYS[9], 0, -1)) do bytes = bytes + redis.call('HSTRLEN', KEYS[10], held) end
  while size > 0 and (size > maxItems or bytes > maxBytes) do
    local oldest = redis.call('ZPOPMIN', KEYS[9])[1]
    bytes = bytes - redis.call('HSTRLEN', KEYS[10], oldest)
    redis.call('HDEL', KEYS[10], oldest)
    size = size - 1
    dropped = dropped + 1
  end
end
written[#written + 1] = dropped
written[#written + 1] = size
-- Only those still held: one the bound dropped in this same step was never on the list for a reader
-- (an alert naming it would name an id that is gone).
for _, added in ipairs(lettered) do
  if redis.call('HEXISTS', KEYS[10], added[2]) == 1 then written[#written + 1] = added[1] end
end
return written
