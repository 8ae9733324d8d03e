/**
 * The one home of RedBeat's Redis key names, as RedBeat's own code builds them
 * (redbeat/schedulers.py: RedBeatConfig and RedBeatSchedulerEntry.generate_key):
 *   <prefix><name>      hash  fields `definition` (typed JSON: name, task, args, kwargs, options,
 *                             schedule, enabled) and `meta` (typed JSON: last_run_at, total_run_count)
 *   <prefix>:schedule   zset  member = the entry's key, score = when it is next due (epoch seconds;
 *                             -1 = never again)
 *   <prefix>:statics    set   names of the entries RedBeat installed from its app's beat_schedule
 *   <prefix>:lock       string  the beat lock (redis-py Lock: a token set NX with an expiry)
 * With the default prefix "redbeat:" these are "redbeat:<name>", "redbeat::schedule", "redbeat::lock".
 * tsbeat adds one field to an entry's hash, REDBEAT_INCARNATION_FIELD (RedBeat reads only its own two).
 */

/**
 * The field of an entry's hash where tsbeat marks the entry's incarnation (redbeat-digest.lua: when it
 * first sees it, TIME in microseconds). RedBeat's delete() removes the hash, so a re-created entry
 * gets a new, greater mark: its state starts afresh (src/redis/lua/includes/entry-fence.lua).
 */
export const REDBEAT_INCARNATION_FIELD = 'tsbeat_incarnation';

export const REDBEAT_DEFAULT_PREFIX = 'redbeat:';

export interface RedBeatKeys {
  readonly prefix: string;
  readonly schedule: string;
  readonly statics: string;
  readonly lock: string;
  entry(name: string): string;
  /** The entry name of a member of the schedule zset, or undefined when it is not under the prefix. */
  nameOf(key: string): string | undefined;
}

/**
 * RedBeat's keys for `prefix` (its `redbeat_key_prefix`). `lockKey` is its `redbeat_lock_key`: as
 * RedBeat does, a key that does not start with the prefix gets the prefix put in front of it.
 */
export function redbeatKeys(prefix: string, lockKey?: string): RedBeatKeys {
  const lock = lockKey === undefined ? `${prefix}:lock` : lockKey.startsWith(prefix) ? lockKey : `${prefix}${lockKey}`;
  return {
    prefix,
    schedule: `${prefix}:schedule`,
    statics: `${prefix}:statics`,
    lock,
    entry: (name) => `${prefix}${name}`,
    nameOf: (key) => (key.startsWith(prefix) && key.length > prefix.length ? key.slice(prefix.length) : undefined),
  };
}
