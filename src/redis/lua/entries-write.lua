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

  ARGV[1]   now, epoch ms (created / updated)
  ARGV[2]   "1" to keep the state of deleted entries (`--keep-history`), "" to remove it
  ARGV[3]   the pub/sub channel to announce a change on; the message is "entries <version>"
  ARGV[4]   N, the number of operations; then N triples (op, name, entry JSON): op "put" (create or
            replace, with the entry's canonical JSON) or "del" (the JSON is ignored), either with
            "@<version>" appended to apply only if the entry's stored version is that one (0: only
            if there is none), for a read-modify-write that must not overwrite a change made meanwhile

  Reply   {version, outcome 1, …, outcome N}: version is the counter after the write (unchanged
          when nothing changed); each outcome is "created", "updated", "unchanged", "deleted" or
          "absent" (a delete of a name that is not there).
          {"static", name} when a put names a config-file entry: nothing written.
          {"conflict", name, stored version} when an op's expected version is not the stored one
          (0 = none stored): nothing written.
  Errors  WRONGTYPE naming the key when a key holds another type; ERR when now or N is not a
          number, or an op is neither put nor del. All before anything is written.
  Writes  HSET / HDEL of the entries (a created entry's incarnation is the new version, an updated one
          keeps its own; includes/entry-record.lua); ZADD of each changed name at the new version; INCR of the
          counter (once, when anything changed); ZADD of created names to / ZREM of deleted ones from
          entries:names; HDEL of deleted entries' states, SREM from paused
          and HDEL from resumed (unless kept);
          PUBLISH "entries <version>" when anything changed.
]]
--- @include "key-type"
--- @include "entry-record"

local SCRIPT = 'entries-write'
local refused = wrongType(SCRIPT, KEYS[1], 'hash') or wrongType(SCRIPT, KEYS[2], 'zset') or
  wrongType(SCRIPT, KEYS[3], 'string') or wrongType(SCRIPT, KEYS[4], 'set') or wrongType(SCRIPT, KEYS[5], 'hash') or
  wrongType(SCRIPT, KEYS[6], 'set') or wrongType(SCRIPT, KEYS[7], 'hash') or wrongType(SCRIPT, KEYS[8], 'zset')
if refused then return refused end
local now = tonumber(ARGV[1])
if not now then return redis.error_reply('ERR ' .. SCRIPT .. ': now is not a number') end
local count = tonumber(ARGV[4])
if not count or count < 0 or #ARGV ~= 4 + 3 * count then
  return redis.error_reply('ERR ' .. SCRIPT .. ': ARGV[4] must be the number of (op, name, entry) triples that follow')
end

-- Check everything, and work out each outcome, before the first write.
-- An op sees the ones before it in this call: a put after a delete of its name creates it again.
local outcomes = {}
local changed = false
local earlier = {}
for i = 1, count do
  local spec, name, json = ARGV[2 + 3 * i], ARGV[3 + 3 * i], ARGV[4 + 3 * i]
  local op, expected = string.match(spec, '^(%a+)@?(%d*)$')
  local stored = earlier[name]
  if stored == nil then stored = redis.call('HGET', KEYS[1], name) end
  if expected and expected ~= '' then
    local current = stored and tonumber(recordVersion(stored)) or 0
    if current ~= tonumber(expected) then return { 'conflict', name, current } end
  end
  if op == 'put' then
    if redis.call('SISMEMBER', KEYS[4], name) == 1 then return { 'static', name } end
    if not stored then
      outcomes[i] = 'created'
    elseif recordEntry(stored) == json then
      outcomes[i] = 'unchanged'
    else
      outcomes[i] = 'updated'
    end
  elseif op == 'del' then
    outcomes[i] = stored and 'deleted' or 'absent'
  else
    return redis.error_reply('ERR ' .. SCRIPT .. ': operation ' .. i .. ' is neither put nor del')
  end
  if outcomes[i] ~= 'unchanged' and outcomes[i] ~= 'absent' then changed = true end
  if op == 'del' then
    earlier[name] = false
  elseif outcomes[i] ~= 'unchanged' then
    -- What a later op compares against: the entry as this one leaves it (its version is not read).
    earlier[name] = encodeRecord(0, 0, 0, 0, json)
  end
end

local version = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
if changed then
  version = redis.call('INCR', KEYS[3])
  for i = 1, count do
    local outcome, name, json = outcomes[i], ARGV[3 + 3 * i], ARGV[4 + 3 * i]
    if outcome == 'created' or outcome == 'updated' then
      -- A later put of the same name in this call sees the earlier one's record: created and the
      -- incarnation stay. A new entry's incarnation is this version, which no other write gets.
      local before = redis.call('HGET', KEYS[1], name)
      local created = recordCreated(before)
      local incarnation = recordIncarnation(before)
      if not created then created, incarnation = now, version end
      redis.call('HSET', KEYS[1], name, encodeRecord(version, incarnation, created, now, json))
      redis.call('ZADD', KEYS[2], version, name)
      if outcome == 'created' then redis.call('ZADD', KEYS[8], 0, name) end
    elseif outcome == 'deleted' then
      redis.call('HDEL', KEYS[1], name)
      redis.call('ZADD', KEYS[2], version, name)
      redis.call('ZREM', KEYS[8], name)
      if ARGV[2] ~= '1' then
        redis.call('HDEL', KEYS[5], name)
        redis.call('SREM', KEYS[6], name)
        redis.call('HDEL', KEYS[7], name)
      end
    end
  end
  redis.call('PUBLISH', ARGV[3], 'entries ' .. version)
end
local reply = { version }
for i = 1, count do reply[i + 1] = outcomes[i] end
return reply
