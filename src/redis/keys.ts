/**
 * The one home of tsbeat's own Redis key and channel names, every key a deployment writes or reads
 * (listed below): the entries' state, the lock and fence, the leader and replicas, live control,
 * runtime entries and the recorded definition, run histories and outcomes, passed and missed
 * slots, backfills, alerts and the audit trail. The broker's names (kombu's) are in src/kombu/keys.ts.
 */

/**
 * tsbeat's own keys, for one deployment. All share the hash tag `{<name>}`, so that on a Redis
 * Cluster they live in one hash slot, on one shard, where one script may touch any of them; the
 * prefix keeps them apart from Celery's.
 * These are the names every release has written for a deployment of one leader (0.2.x's partitions
 * = 1 among them), so that an upgrade reads the state it left.
 *   <prefix>:{<name>}:state    hash  entry name → JSON {slot, seen, at, by, id, n} (entry-state-codec.ts)
 *   <prefix>:{<name>}:lock     string  the redlock lock (value: the leader's token; expires after lock.ttl)
 *   <prefix>:{<name>}:fence    string  the token of the last instance that took the lock; the publish script checks it
 *   <prefix>:{<name>}:leader   hash  instance, since, token of the current leader (for status), and the fingerprint of the
 *                              config it runs: configHash, entriesHash, entryCount, entryNames (JSON, up to 10,000 names)
 *   <prefix>:{<name>}:events   pub/sub channel: "released <instance>" when a leader steps down; "control" after a pause, resume or trigger;
 *                              "entries <version>" after a write of runtime entries (entries-write.lua)
 *   <prefix>:{<name>}:paused   set  names of paused entries (`beat pause` / `beat resume`)
 *   <prefix>:{<name>}:paused:notes  hash  entry name → JSON {note, by, at}: why it was paused (`beat pause --note`, or
 *                              pauseOnFailure, written by lua/run-history.lua); removed on resume
 *   <prefix>:{<name>}:notes  hash  entry name → JSON {action, note, by, at}: the last note given with a pause, resume or
 *                              trigger of it (`--note`, the API; control/notes.ts), kept for status and the audit trail
 *   <prefix>:{<name>}:stop   string  the deployment-wide stop (`beat pause --all`): JSON {by, at, note} (control/deployment-stop.ts);
 *                              while it exists every publishing script (publish-fenced, claim-fenced, trigger-fenced,
 *                              claim-trigger, backfill-fenced) publishes nothing (includes/stop.lua); `beat resume --all` deletes it
 *   <prefix>:{<name>}:resumed  hash  entry name → when it was last resumed (epoch ms): slots before it stay skipped
 *   <prefix>:{<name>}:triggers list  pending manual runs (`beat trigger`), JSON {entry, id, at}
 *   <prefix>:{<name>}:triggered:<task id>  string  set (1 h expiry) when a manual run was published, for the CLI to confirm
 *   <prefix>:{<name>}:passed:<entry>  zset  ranges "<first>:<last>" (epoch ms; score: first) of the entry's slots the leader
 *                              passed over, what `beat backfill` checks so that no slot goes out twice (the schedule
 *                              publishes in order: a slot at or before the stored one not in a range was published); only
 *                              for an entry that had one passed over or backfilled, at most DEFAULTS.passedRangesKept
 *                              ranges (includes/passed-ranges.lua; lua/record-passed.lua, passed-clip.lua, backfill-fenced.lua)
 *   <prefix>:{<name>}:passed-floor  hash  entry name → the oldest slot its passed zset speaks for (set by a trim, or 0)
 *   <prefix>:{<name>}:passed-open  hash  entry name → the fence token of the leader that recorded a range of it above its
 *                              stored slot (a new leader cuts such ranges before it schedules)
 *   <prefix>:{<name>}:passed-since  string  when leaders began to record passed-over slots (epoch ms; first writer wins)
 *   <prefix>:{<name>}:backfills  list  pending backfill requests (`beat backfill`), JSON (control/backfill-request.ts)
 *   <prefix>:{<name>}:backfill:<id>  hash  a backfill request's progress {published, recorded, ahead, unrecorded, excluded,
 *                              through, total, done, error, entry}, written by lua/backfill-fenced.lua (1 h expiry), read by the CLI
 *   <prefix>:{<name>}:missed:<entry>  list  the entry's slots that never ran, newest report first, JSON each
 *                              {first, n, why, at} (missed-slots-store.ts); at most DEFAULTS.missedSlotsKept, expiring a day after the last
 *   <prefix>:{<name>}:entries  hash  runtime entry name → its record {v, i, created, updated, entry} (i: its incarnation) (entry-record-codec.ts)
 *   <prefix>:{<name>}:entries:changes  zset  runtime entry name → the version of its last change (kept after a delete:
 *                              a name in here and not in `entries` was deleted at that version)
 *   <prefix>:{<name>}:entries:version  string  the version counter of the runtime entries, raised by each write
 *   <prefix>:{<name>}:entries:bytes  string  the bytes of the runtime entries' names and definitions (JSON), kept by
 *                              entries-write.lua for entryLimits.maxStoreBytes (counted again when missing)
 *   <prefix>:{<name>}:entries:receipt:<id>  string  the reply of one write that changed something (JSON), kept
 *                              DEFAULTS.entriesReceiptMs: the same write sent again answers what it did the first time
 *   <prefix>:{<name>}:statics  set  the names of the config file's entries, written by the leader: runtime entries may not take them
 *   <prefix>:{<name>}:statics:id  string  a hash of those names, so that an unchanged list is not written again
 *   <prefix>:{<name>}:definition  hash  the config the leader runs, as `beat plan --config` compares another with
 *                              (definition-codec.ts): {v, digest, configHash, source, at, body} or, when too large to
 *                              record, {v, digest, configHash, source, at, refused}; written by lua/definition-write.lua
 *                              when the leader starts leading and after a reload, only when its digest changed
 *   <prefix>:{<name>}:alerts:items  hash  alert delivery id → the delivery (JSON: id, url, body, contentType, attempts)
 *   <prefix>:{<name>}:alerts:due    zset  alert delivery id → when to (re)try it, epoch ms (pushed ahead while one is being sent)
 *   <prefix>:{<name>}:alerts:sent   zset  alert delivery id → when it was delivered or given up on (kept a day, so that it is not sent twice)
 *   <prefix>:{<name>}:runs:<entry>  list  the entry's last runs, newest first, JSON each (run-history-codec.ts), written by
 *                              lua/run-history.lua only; at most DEFAULTS.runHistoryLength
 *   <prefix>:{<name>}:finished  hash  entry name → JSON {last, ok, fail}: its newest finished run, the times of its last
 *                              SUCCESS and FAILURE (run-history-codec.ts), written by lua/run-history.lua only; kept across
 *                              failovers and after the history list has moved on
 *   <prefix>:{<name>}:failures  hash  entry name → its FAILUREs since its last SUCCESS (lua/run-history.lua; deleted on resume):
 *                              what pauseOnFailure counts
 *   <prefix>:{<name>}:retries  zset  a slot's next attempt due (core/retry.ts; score: when, epoch ms), member the JSON
 *                              {"e": entry, "s": slot ms, "a": attempt, "id": its task id, "of": the slot's first task id, "r": revision}
 *                              (retry-codec.ts), added by lua/run-history.lua with the final outcome of the attempt before
 *                              it, so that no failover loses or doubles it
 *   <prefix>:{<name>}:waiting  zset  runs waiting for a place in their concurrency group (concurrency.ts; score: the slot,
 *                              epoch ms), member the JSON {"q": group, "e": entry, "s": slot ms, "id": task id, "r": revision,
 *                              "u": until ms} (waiting-codec.ts), added by lua/group-wait.lua in the step that takes the slot,
 *                              removed by lua/retry-fenced.lua in the step that publishes it (or by the leader once past "u")
 *   <prefix>:{<name>}:dead-letters  zset  dead letter id → when its slot failed for good, epoch ms (the oldest leave first at the bound)
 *   <prefix>:{<name>}:dead-letters:items  hash  dead letter id → the item (dead-letter-codec.ts), added by lua/run-history.lua with
 *                              the outcome that ended the slot's attempts, removed by `beat dead-letter replay|discard`
 *                              (lua/dead-letters.lua)
 *   <prefix>:{<name>}:replicas  hash  instance id → its record {v, host, pid, version, role, started, beat, http, ttl}, written by
 *                              every `beat run` on each heartbeat (replica-codec.ts, lua/replica-beat.lua); who leads is the lock's
 *   <prefix>:{<name>}:replicas:expiry  zset  instance id → when its record stops counting (its last heartbeat plus its lock.ttl, epoch
 *                              ms by Redis's TIME); each heartbeat drops the records past it, a clean stop its own
 *   <prefix>:{<name>}:partitioning  hash  written by tsbeat 0.2.x only: the deployment's partition count (field count), and
 *                              while its `beat partitions set` moved entries, the count it moved to (field to). 0.3.0
 *                              retired partitions: it only reads the key, to refuse a deployment that 0.2.x left
 *                              partitioned (redis/retired-partitions.ts), and never writes it
 *   <prefix>:{<name>}:failing  hash  entry name → JSON {reason, since, attempts, retryAt} of an entry whose runs are refused
 *                              because of the entry alone (written by the leader, cleared when it publishes again or goes)
 *   <prefix>:{<name>}:unconsumed  hash  queue name → JSON {reason, since, depth?} of a queue the schedule publishes to that
 *                              nobody has consumed for consumers.unconsumedAfter (written by the leader, cleared when read again)
 *   <prefix>:{<name>}:audit  stream  every change to an entry (create, update, delete, pause, resume, trigger): at, who, entry,
 *                              action, changes (a field diff, JSON), note, task; capped (XADD MAXLEN ~ audit.maxEvents) by audit-log.ts
 *   <prefix>:{<name>}:runs:pending  set  names of entries with a run whose outcome is not final yet (a new leader goes on
 *                              tracking those). No entry can be named "pending" here: its list is runs:<entry>, the set
 *                              runs:pending, and an entry named "pending" would share the key; it is escaped (see runs())
 */
/** The start of the events channel's message after a write of runtime entries ("entries <version>"). */
export const ENTRIES_MESSAGE = 'entries';

export interface SchedulerKeys {
  readonly state: string;
  readonly lock: string;
  readonly fence: string;
  readonly leader: string;
  readonly events: string;
  readonly paused: string;
  /** The deployment-wide stop (`beat pause --all`): while it exists nothing is published. */
  readonly stop: string;
  readonly resumed: string;
  readonly triggers: string;
  triggered(taskId: string): string;
  /** The ranges of an entry's slots the leader passed over, kept for `beat backfill`. */
  passed(entry: string): string;
  readonly passedFloor: string;
  readonly passedOpen: string;
  readonly passedSince: string;
  readonly backfills: string;
  /** A backfill request's progress. */
  backfill(id: string): string;
  /** The reports of an entry's slots that never ran. */
  missed(entry: string): string;
  readonly entries: string;
  readonly entryChanges: string;
  /** The runtime entries' names in a zset of score 0, for pages in name order (ZRANGEBYLEX). */
  readonly entryNames: string;
  readonly entriesVersion: string;
  /** The bytes of the runtime entries' names and definitions, for entryLimits.maxStoreBytes. */
  readonly entriesBytes: string;
  /** One write's receipt (entries-write.lua), so that sending it again answers what it did. */
  entriesReceipt(id: string): string;
  readonly statics: string;
  readonly staticsId: string;
  /** The recorded definition of the config the leader runs, for `beat plan --config`. */
  readonly definition: string;
  readonly alertItems: string;
  readonly alertsDue: string;
  readonly alertsSent: string;
  /** The history list of an entry's runs. */
  runs(entry: string): string;
  readonly runsPending: string;
  /** Each entry's summary of finished runs (the newest, the last success and failure). */
  readonly runsFinished: string;
  /** Each entry's FAILUREs since its last SUCCESS or resume. */
  readonly failures: string;
  /** Each slot's next attempt, by when it is due (a retry of a failed or lost run). */
  readonly retries: string;
  readonly waiting: string;
  /** The dead-letter list: each id by when its slot failed for good (the order; the bound drops the oldest). */
  readonly deadLetters: string;
  /** The dead-letter list's items by id (dead-letter-codec.ts). */
  readonly deadLetterItems: string;
  /** The last note given with a pause, resume or trigger of each entry. */
  readonly notes: string;
  /** Why each paused entry was paused: its note. */
  readonly pauseNotes: string;
  readonly replicas: string;
  readonly replicaExpiry: string;
  /** tsbeat 0.2.x's record of the deployment's partition count: read only, to refuse a partitioned deployment. */
  readonly partitioning: string;
  readonly failing: string;
  /** The schedule's queues that nobody consumes, as the leader last found them. */
  readonly unconsumed: string;
  /** The audit trail (a stream). */
  readonly audit: string;
}

/** The Redis type tsbeat keeps at each of its keys (as TYPE names it), for naming a stray value at one. */
export const SCHEDULER_KEY_TYPES = {
  state: 'hash',
  lock: 'string',
  fence: 'string',
  leader: 'hash',
  paused: 'set',
  stop: 'string',
  resumed: 'hash',
  triggers: 'list',
  passedFloor: 'hash',
  passedOpen: 'hash',
  passedSince: 'string',
  backfills: 'list',
  entries: 'hash',
  entryChanges: 'zset',
  entryNames: 'zset',
  entriesVersion: 'string',
  entriesBytes: 'string',
  statics: 'set',
  staticsId: 'string',
  definition: 'hash',
  alertItems: 'hash',
  alertsDue: 'zset',
  alertsSent: 'zset',
  runsPending: 'set',
  runsFinished: 'hash',
  failures: 'hash',
  retries: 'zset',
  waiting: 'zset',
  deadLetters: 'zset',
  deadLetterItems: 'hash',
  pauseNotes: 'hash',
  notes: 'hash',
  replicas: 'hash',
  replicaExpiry: 'zset',
  partitioning: 'hash',
  failing: 'hash',
  unconsumed: 'hash',
  audit: 'stream',
} as const satisfies Partial<Record<keyof SchedulerKeys, string>>;

/** `[key, type]` of the named scheduler keys, for nameWrongType. */
export function typedKeys<K extends keyof typeof SCHEDULER_KEY_TYPES>(
  keys: Pick<SchedulerKeys, K>,
  names: readonly K[],
): [string, string][] {
  return names.map((name) => [keys[name], SCHEDULER_KEY_TYPES[name]]);
}

/** The keys of a deployment. */
export function schedulerKeys(prefix: string, deployment: string): SchedulerKeys {
  const base = `${prefix}${prefix === '' ? '' : ':'}{${deployment}}:`;
  return {
    state: `${base}state`,
    lock: `${base}lock`,
    fence: `${base}fence`,
    leader: `${base}leader`,
    events: `${base}events`,
    paused: `${base}paused`,
    stop: `${base}stop`,
    resumed: `${base}resumed`,
    triggers: `${base}triggers`,
    triggered: (taskId) => `${base}triggered:${taskId}`,
    passed: (entry) => `${base}passed:${entry}`,
    passedFloor: `${base}passed-floor`,
    passedOpen: `${base}passed-open`,
    passedSince: `${base}passed-since`,
    backfills: `${base}backfills`,
    backfill: (id) => `${base}backfill:${id}`,
    missed: (entry) => `${base}missed:${entry}`,
    entries: `${base}entries`,
    entryChanges: `${base}entries:changes`,
    entryNames: `${base}entries:names`,
    entriesVersion: `${base}entries:version`,
    entriesBytes: `${base}entries:bytes`,
    entriesReceipt: (id) => `${base}entries:receipt:${id}`,
    statics: `${base}statics`,
    staticsId: `${base}statics:id`,
    definition: `${base}definition`,
    alertItems: `${base}alerts:items`,
    alertsDue: `${base}alerts:due`,
    alertsSent: `${base}alerts:sent`,
    // "runs:pending" is the set: an entry of that name gets "runs:=pending", which no other name maps to.
    runs: (entry) => `${base}runs:${entry === 'pending' || entry.startsWith('=') ? `=${entry}` : entry}`,
    runsPending: `${base}runs:pending`,
    runsFinished: `${base}finished`,
    failures: `${base}failures`,
    retries: `${base}retries`,
    waiting: `${base}waiting`,
    deadLetters: `${base}dead-letters`,
    deadLetterItems: `${base}dead-letters:items`,
    pauseNotes: `${base}paused:notes`,
    notes: `${base}notes`,
    replicas: `${base}replicas`,
    replicaExpiry: `${base}replicas:expiry`,
    partitioning: `${base}partitioning`,
    failing: `${base}failing`,
    unconsumed: `${base}unconsumed`,
    audit: `${base}audit`,
  };
}
