--[[
  dead-letters: takes items off the dead-letter list (issue 70; `beat dead-letter replay|discard`),
  all or nothing, with their audit events, and for a replay queues each item's manual run (the
  trigger request the leader publishes through trigger-fenced.lua) in the same step: an item leaves
  the list exactly when its replay is queued, and two replays of one item queue one run. A replay is
  refused while the deployment is stopped (checked here, in the step: a stop set after the caller
  looked still refuses it). The request carries the item as stored ("item"), and the leader puts it
  back ('restore') in the step that drops a request it will not publish (too old, its entry gone,
  refused): a replay that is never published never loses its item.

  KEYS[1]      dead-letter zset (keys.ts `deadLetters`)
  KEYS[2]      dead-letter hash (keys.ts `deadLetterItems`, dead-letter-codec.ts)
  KEYS[3]      pending trigger requests (list, keys.ts `triggers`)
  KEYS[4]      audit stream (keys.ts `audit`)
  KEYS[5]      stop key (includes/stop.lua): while it exists a replay is refused
  KEYS[6]      state hash (includes/entry-state.lua), KEYS[7] entries hash (includes/entry-record.lua):
               a replay's entry fence. An item whose run was published under a revision ("r") of an
               entry deleted (and perhaps created again) since (includes/entry-fence.lua
               incarnationHolds, as retry-fenced.lua drops such an attempt) is not replayed: the
               entry of its name now is another one. An edit keeps the incarnation: replayed.

  ARGV[1]      mode: 'replay', 'discard', 'restore' (a dropped request) or 'restore-refused' (a
               request a script refused)
  restore      ARGV[2] the request as it sits in the triggers list, ARGV[3] the item's id, ARGV[4]
               its score (when its slot failed for good), ARGV[5] the item (dead-letter-codec.ts);
               KEYS[8] the request's confirmation key (keys.ts `triggered`): a request no longer
               in the list is one a script refused exactly when it says "refused…"
               (trigger-fenced.lua, commit-trigger.lua)
  otherwise:
  ARGV[2]      the audit stream's cap (XADD MAXLEN ~)
  ARGV[3]      N: number of items, then N ids; for a replay, then N trigger requests (their JSON), in the ids' order
  then         E: number of audit events, and for each: F, the number of its fields and values, then those

  Reply   1 taken: every id removed from both keys, a replay's requests pushed (RPUSH), the events added;
          { 0, id } an id is no longer on the list (replayed or discarded meanwhile, or dropped by the
          bound): nothing written; -3 a replay while the deployment is stopped: nothing written;
          { 2, id, entry } a replay of an item whose entry was deleted or created again since its
          run: nothing written
  restore { removed, restored }: 'restore' removes the request (LREM) and, when it was there, puts
          the item back (HSETNX + ZADD; restored 1, 0 when an item of that id is there already);
          'restore-refused' leaves the list alone and puts the item back only when the request is
          no longer in it and its confirmation says it was refused. A request published meanwhile,
          or one still pending (a publish that failed before its script ran), restores nothing: {0, 0}.
          The bound is not applied here (one item over it at most, until the next item added).
  Errors  WRONGTYPE naming the key when a key holds another type; ERR when the counts do not add up.
          All before anything is written.
  Writes  ZREM + HDEL of the items; RPUSH of the requests (replay); XADD of the events;
          restore: LREM of the request ('restore' only), HSETNX + ZADD of the item.
]]
--- @include "key-type"
--- @include "stop"
--- @include "entry-state"
--- @include "entry-record"
--- @include "entry-fence"

local SCRIPT = 'dead-letters'
local refused = wrongType(SCRIPT, KEYS[1], 'zset') or wrongType(SCRIPT, KEYS[2], 'hash')
  or wrongType(SCRIPT, KEYS[3], 'list') or wrongType(SCRIPT, KEYS[4], 'stream')
if refused then return refused end
if ARGV[1] == 'restore' or ARGV[1] == 'restore-refused' then
  local score = tonumber(ARGV[4])
  if not score or ARGV[3] == '' then return redis.error_reply('ERR ' .. SCRIPT .. ': a restore needs an id and a numeric score') end
  if redis.call('TYPE', KEYS[8]).ok ~= 'string' and redis.call('EXISTS', KEYS[8]) == 1 then
    return redis.error_reply('WRONGTYPE ' .. SCRIPT .. ': ' .. KEYS[8] .. ' holds another type, not a string')
  end
  local removed = 0
  if ARGV[1] == 'restore' then
    removed = redis.call('LREM', KEYS[3], 1, ARGV[2])
    if removed == 0 then return { 0, 0 } end
  else
    -- The list holds the few requests waiting for a leader: a scan is cheap (and needs no LPOS, Redis 6.0.6+).
    for _, pending in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do
      if pending == ARGV[2] then return { 0, 0 } end
    end
    local said = redis.call('GET', KEYS[8])
    if type(said) ~= 'string' or string.sub(said, 1, 7) ~= 'refused' then return { 0, 0 } end
  end
  local restored = redis.call('HSETNX', KEYS[2], ARGV[3], ARGV[5])
  if restored == 1 then redis.call('ZADD', KEYS[1], score, ARGV[3]) end
  return { removed, restored }
end
local replay = ARGV[1] == 'replay'
if replay and deploymentStopped(KEYS[5]) then return -3 end
local n = tonumber(ARGV[3])
if not n then return redis.error_reply('ERR ' .. SCRIPT .. ': the item count is not a number') end
local at = 4 + n + (replay and n or 0)
local events = tonumber(ARGV[at])
if not events then return redis.error_reply('ERR ' .. SCRIPT .. ': the audit event count is not where the item count says') end
local eventsAt = at + 1
for _ = 1, events do
  local fields = tonumber(ARGV[at + 1])
  if not fields or fields % 2 ~= 0 then return redis.error_reply('ERR ' .. SCRIPT .. ': an audit event has no even field count') end
  at = at + 1 + fields
end
if at ~= #ARGV then return redis.error_reply('ERR ' .. SCRIPT .. ': the arguments do not add up') end

for i = 1, n do
  local id = ARGV[3 + i]
  if redis.call('HEXISTS', KEYS[2], id) == 0 then return { 0, id } end
end
if replay then
  local wrong = wrongType(SCRIPT, KEYS[6], 'hash') or wrongType(SCRIPT, KEYS[7], 'hash')
  if wrong then return wrong end
  for i = 1, n do
    local id = ARGV[3 + i]
    local ok, item = pcall(cjson.decode, redis.call('HGET', KEYS[2], id))
    local fence = ok and type(item) == 'table' and type(item.r) == 'string' and item.r or ''
    local entry = ok and type(item) == 'table' and type(item.e) == 'string' and item.e or ''
    if fence ~= '' and entry ~= '' and not storedIncarnationHolds(fence, KEYS[6], KEYS[7], entry) then
      return { 2, id, entry }
    end
  end
end
for i = 1, n do
  local id = ARGV[3 + i]
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  if replay then redis.call('RPUSH', KEYS[3], ARGV[3 + n + i]) end
end
at = eventsAt
for _ = 1, events do
  local fields = tonumber(ARGV[at])
  local args = { KEYS[4], 'MAXLEN', '~', ARGV[2], '*' }
  for f = 1, fields do args[#args + 1] = ARGV[at + f] end
  redis.call('XADD', unpack(args))
  at = at + 1 + fields
end
return 1
