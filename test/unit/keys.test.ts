/**
 * tsbeat's Redis key names: a deployment keeps exactly the names it always had, those that tsbeat
 * 0.2.x wrote for a deployment of one partition (partitions were retired in 0.3.0), so that an
 * upgrade reads the state, lock and runtime entries it left.
 */
import { describe, expect, it } from 'vitest';
import { SCHEDULER_KEY_TYPES, schedulerKeys, type SchedulerKeys } from '../../src/redis/keys.js';

/** Every key of `keys` by its field: a key named after an entry, task or request is shown for "x". */
function named(keys: SchedulerKeys): Record<string, string> {
  return Object.fromEntries(
    Object.entries(keys).map(([field, key]) => [
      field,
      typeof key !== 'function' ? (key as string) : (key as (arg: string) => string)('x'),
    ]),
  );
}

/**
 * The names that deployments of tsbeat 0.2 have in Redis (prefix "tsbeat", name "prod"), as its
 * partitionKeys('tsbeat', 'prod', 0, 1) gave them, less those only partitions > 1 wrote (the claim,
 * the partition map and the partition index). `partitioning` is read only, to refuse a deployment
 * that 0.2.x left partitioned (redis/retired-partitions.ts).
 */
const TODAY: Record<string, string> = {
  state: 'tsbeat:{prod}:state',
  lock: 'tsbeat:{prod}:lock',
  fence: 'tsbeat:{prod}:fence',
  leader: 'tsbeat:{prod}:leader',
  events: 'tsbeat:{prod}:events',
  paused: 'tsbeat:{prod}:paused',
  stop: 'tsbeat:{prod}:stop',
  resumed: 'tsbeat:{prod}:resumed',
  triggers: 'tsbeat:{prod}:triggers',
  triggered: 'tsbeat:{prod}:triggered:x',
  passed: 'tsbeat:{prod}:passed:x',
  passedFloor: 'tsbeat:{prod}:passed-floor',
  passedOpen: 'tsbeat:{prod}:passed-open',
  passedSince: 'tsbeat:{prod}:passed-since',
  backfills: 'tsbeat:{prod}:backfills',
  backfill: 'tsbeat:{prod}:backfill:x',
  missed: 'tsbeat:{prod}:missed:x',
  entries: 'tsbeat:{prod}:entries',
  entryChanges: 'tsbeat:{prod}:entries:changes',
  entryNames: 'tsbeat:{prod}:entries:names',
  entriesVersion: 'tsbeat:{prod}:entries:version',
  entriesBytes: 'tsbeat:{prod}:entries:bytes',
  entriesReceipt: 'tsbeat:{prod}:entries:receipt:x',
  statics: 'tsbeat:{prod}:statics',
  staticsId: 'tsbeat:{prod}:statics:id',
  // Added with beat plan --config (the config the leader runs): a new name, which no 0.2 deployment has.
  definition: 'tsbeat:{prod}:definition',
  alertItems: 'tsbeat:{prod}:alerts:items',
  alertsDue: 'tsbeat:{prod}:alerts:due',
  alertsSent: 'tsbeat:{prod}:alerts:sent',
  runs: 'tsbeat:{prod}:runs:x',
  runsPending: 'tsbeat:{prod}:runs:pending',
  runsFinished: 'tsbeat:{prod}:finished',
  failures: 'tsbeat:{prod}:failures',
  // Added with retries (issue 70): a new name, which no 0.2 deployment has.
  retries: 'tsbeat:{prod}:retries',
  // Added with concurrency groups (issue 70): a new name.
  waiting: 'tsbeat:{prod}:waiting',
  // Added with the dead-letter list (issue 70): new names, which no earlier deployment has.
  deadLetters: 'tsbeat:{prod}:dead-letters',
  deadLetterItems: 'tsbeat:{prod}:dead-letters:items',
  pauseNotes: 'tsbeat:{prod}:paused:notes',
  notes: 'tsbeat:{prod}:notes',
  replicas: 'tsbeat:{prod}:replicas',
  replicaExpiry: 'tsbeat:{prod}:replicas:expiry',
  failing: 'tsbeat:{prod}:failing',
  unconsumed: 'tsbeat:{prod}:unconsumed',
  audit: 'tsbeat:{prod}:audit',
  partitioning: 'tsbeat:{prod}:partitioning',
};

describe('the keys of a deployment', () => {
  it('are the names deployments have today, every one of them', () => {
    expect(named(schedulerKeys('tsbeat', 'prod'))).toEqual(TODAY);
  });

  it('keep the escape of an entry named "pending" and the names without a prefix', () => {
    const keys = schedulerKeys('tsbeat', 'prod');
    expect([keys.runs('pending'), keys.runs('=a'), keys.runsPending]).toEqual([
      'tsbeat:{prod}:runs:=pending',
      'tsbeat:{prod}:runs:==a',
      'tsbeat:{prod}:runs:pending',
    ]);
    expect(named(schedulerKeys('', 'prod'))).toEqual(Object.fromEntries(Object.entries(TODAY).map(([f, k]) => [f, k.slice(7)])));
  });

  it('have a Redis type named for every key that holds a value, the retired partition record a hash', () => {
    expect(SCHEDULER_KEY_TYPES.partitioning).toBe('hash');
    for (const field of Object.keys(SCHEDULER_KEY_TYPES)) expect(TODAY).toHaveProperty(field);
  });
});
