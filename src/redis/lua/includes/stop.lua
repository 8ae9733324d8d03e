--[[
  deploymentStopped(key): whether the deployment is stopped (`beat pause --all`): `key` is the
  deployment's stop key (keys.ts `stop`), and its existence alone is the stop, whatever it holds
  (its value says who, when and why, for the views: control/deployment-stop.ts; a key of another
  type, a list a message was pushed onto say, is a stop too, and the views name what it holds:
  redis/control-store.ts deploymentStop, deleted by `beat resume --all`). Every script that
  publishes checks it in the step that would publish, after the fence, and publishes nothing while
  it exists: a leader that has not heard of the stop yet (a stale view, a failover) cannot publish
  through it. The scripts that only record what a broker outside Redis already confirmed
  (commit-fenced, commit-trigger, a backfill step with no pushes) do not check it: what was sent is
  recorded, so that it is never sent twice.

    if deploymentStopped(KEYS[n]) then return <the script's "stopped" reply, -3> end

  One EXISTS: nothing else is read.
]]
local function deploymentStopped(key)
  return redis.call('EXISTS', key) == 1
end
