/**
 * The one home of tsbeat's own Redis key and channel names: an entry's state, the lock and fence,
 * the leader record, live control. The broker's names (kombu's) are in src/kombu/keys.ts.
 */

/**
 * tsbeat's own keys, for one deployment. All share the hash tag `{<name>}`, so that they live in one
 * slot should the state Redis ever be a cluster, and the prefix keeps them apart from Celery's.
 * With `partitions` > 1 (core/partition.ts) each partition p has its own copy of every key below but
 * the deployment's (replicas, replicas:expiry, alerts:*, audit, partitions, partitioning), under the hash tag
 * `{<name>/<p>}` (a deployment's name has no "/", so no deployment's tag is another's partition's):
 * a partition's keys share one slot, as a script that acts on them needs. One partition is the
 * deployment: its keys are those below, tagged `{<name>}`. Until the runtime entry store is
 * partitioned (issue 34, step E), a partition's runtime uses the deployment's store keys
 * (partitionRuntimeKeys): its scripts then touch two slots, which a standalone Redis allows.
 *   <prefix>:{<name>}:state    hash  entry name → JSON {slot, seen, at, by, id, n} (entry-state-codec.ts)
 *   <prefix>:{<name>}:lock     string  the redlock lock (value: the leader's token; expires after lock.ttl)
 *   <prefix>:{<name>}:fence    string  the token of the last instance that took the lock; the publish script checks it
 *   <prefix>:{<name>}:claim    string  with partitions > 1: the id of the replica the partition map gives the partition to, while it
 *                              is ready to take it (its lock attempts pass its own checks and find the lock held), expiring
 *                              after lock.ttl unless renewed (service/partition-claims.ts); a leader hands the partition over
 *                              only to the replica named here
 *   <prefix>:{<name>}:leader   hash  instance, since, token of the current leader (for status), and the fingerprint of the
 *                              config it runs: configHash, entriesHash, entryCount, entryNames (JSON, up to 10,000 names)
 *   <prefix>:{<name>}:events   pub/sub channel: "released <instance>" when a leader steps down; "control" after a pause, resume or trigger;
 *                              "entries <version>" after a write of runtime entries (entries-write.lua)
 *   <prefix>:{<name>}:paused   set  names of paused entries (`beat pause` / `beat resume`)
 *   <prefix>:{<name>}:paused:notes  hash  entry name → JSON {note, by, at}: why it was paused (`beat pause --note`, or
 *                              pauseOnFailure, written by lua/run-history.lua); removed on resume
 *   <prefix>:{<name>}:notes  hash  entry name → JSON {action, note, by, at}: the last note given with a pause, resume or
 *                              trigger of it (`--note`, the API; control/notes.ts), kept for status and the audit trail
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
 *                              through, total, done, error}, written by lua/backfill-fenced.lua (1 h expiry), read by the CLI
 *   <prefix>:{<name>}:missed:<entry>  list  the entry's slots that never ran, newest report first, JSON each
 *                              {first, n, why, at} (missed-slots-store.ts); at most DEFAULTS.missedSlotsKept, expiring a day after the last
 *   <prefix>:{<name>}:entries  hash  runtime entry name → its record {v, created, updated, entry} (entry-record-codec.ts)
 *   <prefix>:{<name>}:entries:changes  zset  runtime entry name → the version of its last change (kept after a delete:
 *                              a name in here and not in `entries` was deleted at that version)
 *   <prefix>:{<name>}:entries:version  string  the version counter of the runtime entries, raised by each write
 *   <prefix>:{<name>}:entries:partition:<N>:<p>  set  the names of the runtime entries in partition p of N (CRC-32 of the
 *                              name modulo N, core/partition.ts): the partition index, which a replica taking partitions on
 *                              reads instead of every record (entry-index.ts). Kept by entries-write.lua, which computes the
 *                              partition itself, for the recorded count N (`partitioning`) and the count a move goes to, when
 *                              > 1; built where missing (a store older than it, a count recorded after the entries were
 *                              written) by entries-index.lua; `beat partitions set` builds the new count's and drops the old
 *   <prefix>:{<name>}:entries:partition:<N>:build  string  while N's partition index is being built: the HSCAN cursor of the
 *                              pass, shared by every replica that needs the index (entries-index.lua); deleted when it ends
 *   <prefix>:{<name>}:entries:receipt:<id>  string  the reply of one write that changed something (JSON), kept
 *                              DEFAULTS.entriesReceiptMs: the same write sent again answers what it did the first time
 *   <prefix>:{<name>}:statics  set  the names of the config file's entries, written by the leader: runtime entries may not take them
 *   <prefix>:{<name>}:statics:id  string  a hash of those names, so that an unchanged list is not written again
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
 *   <prefix>:{<name>}:replicas  hash  instance id → its record {v, host, pid, version, role, started, beat, http, ttl}, written by
 *                              every `beat run` on each heartbeat (replica-codec.ts, lua/replica-beat.lua); who leads is the lock's
 *   <prefix>:{<name>}:replicas:expiry  zset  instance id → when its record stops counting (its last heartbeat plus its lock.ttl, epoch
 *                              ms by Redis's TIME); each heartbeat drops the records past it, a clean stop its own
 *   <prefix>:{<name>}:partitions  hash  partition number → the replica that leads it and since when: the partition map, of a
 *                              deployment of more than one partition (the deployment's key, whatever the partition)
 *   <prefix>:{<name>}:partitioning  hash  the deployment's recorded partition count: count, and while `beat partitions set`
 *                              moves the entries, to (the count it moves to), with by and at (lua/partition-count.lua);
 *                              absent: never recorded (a deployment with state in {<name>}:state then counts as 1)
 *   <prefix>:{<name>}:failing  hash  entry name → JSON {reason, since, attempts, retryAt} of an entry whose runs are refused
 *                              because of the entry alone (written by the leader, cleared when it publishes again or goes)
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
  /** With partitions > 1, the id of the replica ready to take the partition from its leader (service/partition-claims.ts). */
  readonly claim: string;
  readonly leader: string;
  readonly events: string;
  readonly paused: string;
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
  /** The partition index: the names of the runtime entries in partition `partition` of `count` (a set; entry-index.ts). */
  entriesPartition(count: number, partition: number): string;
  /** While `count`'s partition index is being built, the cursor of the pass over the records (entries-index.lua). */
  entriesPartitionBuild(count: number): string;
  /** The start of every entriesPartition key, `<head><count>:<partition>`, for the scripts that build them (includes/entry-index.lua). */
  readonly entriesPartitionHead: string;
  /** One write's receipt (entries-write.lua), so that sending it again answers what it did. */
  entriesReceipt(id: string): string;
  readonly statics: string;
  readonly staticsId: string;
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
  /** The last note given with a pause, resume or trigger of each entry. */
  readonly notes: string;
  /** Why each paused entry was paused: its note. */
  readonly pauseNotes: string;
  readonly replicas: string;
  readonly replicaExpiry: string;
  /** The partition map (partition → its leader), when there is more than one partition. */
  readonly partitions: string;
  /** The deployment's recorded partition count, and the count a move goes to (`beat partitions set`). */
  readonly partitioning: string;
  readonly failing: string;
  /** The audit trail (a stream). */
  readonly audit: string;
}

/** The Redis type tsbeat keeps at each of its keys (as TYPE names it), for naming a stray value at one. */
export const SCHEDULER_KEY_TYPES = {
  state: 'hash',
  lock: 'string',
  fence: 'string',
  claim: 'string',
  leader: 'hash',
  paused: 'set',
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
  statics: 'set',
  staticsId: 'string',
  alertItems: 'hash',
  alertsDue: 'zset',
  alertsSent: 'zset',
  runsPending: 'set',
  runsFinished: 'hash',
  failures: 'hash',
  pauseNotes: 'hash',
  notes: 'hash',
  replicas: 'hash',
  replicaExpiry: 'zset',
  partitions: 'hash',
  partitioning: 'hash',
  failing: 'hash',
  audit: 'stream',
} as const satisfies Partial<Record<keyof SchedulerKeys, string>>;

/** `[key, type]` of the named scheduler keys, for nameWrongType. */
export function typedKeys<K extends keyof typeof SCHEDULER_KEY_TYPES>(
  keys: Pick<SchedulerKeys, K>,
  names: readonly K[],
): [string, string][] {
  return names.map((name) => [keys[name], SCHEDULER_KEY_TYPES[name]]);
}

/** The keys of the deployment's own, which no partition has a copy of (see the header). */
export const DEPLOYMENT_KEYS = [
  'replicas',
  'replicaExpiry',
  'alertItems',
  'alertsDue',
  'alertsSent',
  'audit',
  'partitions',
  'partitioning',
] as const satisfies readonly (keyof SchedulerKeys)[];

/**
 * What a partition's runtime uses (service.ts): its partition's keys, with the runtime entry store's
 * the deployment's while the store is one per deployment (issue 34: step E partitions it): every
 * partition's scripts check a runtime entry's revision there, and the store's writers know of the
 * config file's names there. Of one partition, the same as schedulerKeys.
 */
export function partitionRuntimeKeys(prefix: string, deployment: string, partition: number, partitions: number): SchedulerKeys {
  const own = partitionKeys(prefix, deployment, partition, partitions);
  if (partitions === 1) return own;
  const store = schedulerKeys(prefix, deployment);
  return {
    ...own,
    entries: store.entries,
    entryChanges: store.entryChanges,
    entryNames: store.entryNames,
    entriesVersion: store.entriesVersion,
    entriesPartition: (count, partition) => store.entriesPartition(count, partition),
    entriesPartitionBuild: (count) => store.entriesPartitionBuild(count),
    entriesPartitionHead: store.entriesPartitionHead,
    entriesReceipt: (id) => store.entriesReceipt(id),
    statics: store.statics,
    staticsId: store.staticsId,
  };
}

/** The keys of a deployment of one partition. */
export function schedulerKeys(prefix: string, deployment: string): SchedulerKeys {
  return partitionKeys(prefix, deployment, 0, 1);
}

/**
 * The keys of one partition (0 … partitions−1) of a deployment: its own under `{<name>/<partition>}`,
 * the deployment's (DEPLOYMENT_KEYS) under `{<name>}`. Of one partition, the same as schedulerKeys.
 */
export function partitionKeys(prefix: string, deployment: string, partition: number, partitions: number): SchedulerKeys {
  if (!Number.isSafeInteger(partitions) || partitions < 1)
    throw new RangeError(`partitionKeys: ${String(partitions)} partitions: the count is a whole number from 1`);
  if (!Number.isSafeInteger(partition) || partition < 0 || partition >= partitions)
    throw new RangeError(`partitionKeys: partition ${String(partition)} of ${partitions}: partitions are numbered 0 to ${partitions - 1}`);
  const head = `${prefix}${prefix === '' ? '' : ':'}`;
  const shared = `${head}{${deployment}}:`;
  const base = partitions === 1 ? shared : `${head}{${deployment}/${partition}}:`;
  return {
    state: `${base}state`,
    lock: `${base}lock`,
    fence: `${base}fence`,
    claim: `${base}claim`,
    leader: `${base}leader`,
    events: `${base}events`,
    paused: `${base}paused`,
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
    entriesPartition: (count, partition) => `${base}entries:partition:${count}:${partition}`,
    entriesPartitionBuild: (count) => `${base}entries:partition:${count}:build`,
    entriesPartitionHead: `${base}entries:partition:`,
    entriesReceipt: (id) => `${base}entries:receipt:${id}`,
    statics: `${base}statics`,
    staticsId: `${base}statics:id`,
    alertItems: `${shared}alerts:items`,
    alertsDue: `${shared}alerts:due`,
    alertsSent: `${shared}alerts:sent`,
    // "runs:pending" is the set: an entry of that name gets "runs:=pending", which no other name maps to.
    runs: (entry) => `${base}runs:${entry === 'pending' || entry.startsWith('=') ? `=${entry}` : entry}`,
    runsPending: `${base}runs:pending`,
    runsFinished: `${base}finished`,
    failures: `${base}failures`,
    pauseNotes: `${base}paused:notes`,
    notes: `${base}notes`,
    replicas: `${shared}replicas`,
    replicaExpiry: `${shared}replicas:expiry`,
    partitions: `${shared}partitions`,
    partitioning: `${shared}partitioning`,
    failing: `${base}failing`,
    audit: `${shared}audit`,
  };
}
