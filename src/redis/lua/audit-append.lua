--[[
  audit-append: records a write's changes in the audit trail, one stream entry per change, with
  the fields and order of AuditLog.addTo (src/redis/audit-log.ts): at, who, entry, action,
  changes, then note and grant when there are. One call for many events: an import records up to
  audit.maxEvents (100,000 by default) of them, and a command each cost the writer more than the
  XADD costs Redis.

  KEYS[1]   the audit stream, capped (MAXLEN ~)
  ARGV[1]   the cap, audit.maxEvents
  ARGV[2]   at, epoch ms (every event of the call)
  ARGV[3]   who
  ARGV[4]   the note, "" for none
  ARGV[5]   the grant that allowed the change (as the tokens file writes it), "" for none (the CLI)
  ARGV[6]   N, then N triples: entry name, action (create, update, delete), changes (JSON)

  Reply   N, the events recorded
  Errors  WRONGTYPE naming the key when it holds another type; ERR when N does not match the
          arguments. Both before anything is written.
  Writes  XADD of each event, in order.
]]
--- @include "key-type"

local SCRIPT = 'audit-append'
local refused = wrongType(SCRIPT, KEYS[1], 'stream')
if refused then return refused end
local count = tonumber(ARGV[6])
if not count or count < 0 or #ARGV ~= 6 + 3 * count then
  return redis.error_reply('ERR ' .. SCRIPT .. ': ARGV[6] must be the number of (entry, action, changes) triples that follow')
end
local cap, at, who, note, grant = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
for i = 1, count do
  local entry, action, changes = ARGV[4 + 3 * i], ARGV[5 + 3 * i], ARGV[6 + 3 * i]
  local fields = { 'at', at, 'who', who, 'entry', entry, 'action', action, 'changes', changes }
  if note ~= '' then
    fields[#fields + 1] = 'note'
    fields[#fields + 1] = note
  end
  if grant ~= '' then
    fields[#fields + 1] = 'grant'
    fields[#fields + 1] = grant
  end
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', cap, '*', unpack(fields))
end
return count
