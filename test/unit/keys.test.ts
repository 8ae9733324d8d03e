/**
 * tsbeat's Redis key names: a deployment of one partition keeps exactly the names it always had, and
 * with more, each partition's keys share a hash tag of their own while the deployment's keep theirs.
 */
import { describe, expect, it } from 'vitest';
import { DEPLOYMENT_KEYS, partitionKeys, SCHEDULER_KEY_TYPES, schedulerKeys, type SchedulerKeys } from '../../src/redis/keys.js';

/** Every key of `keys` by its field: a key named after an entry, task or request is shown for "x". */
function named(keys: SchedulerKeys): Record<string, string> {
  return Object.fromEntries(
    Object.entries(keys).map(([field, key]) => [
      field,
      typeof key !== 'function'
        ? (key as string)
        : key.length === 2
          ? (key as (a: number, b: number) => string)(12, 3)
          : (key as (arg: string) => string)('x'),
    ]),
  );
}

/**
 * The names that deployments of tsbeat 0.2 have in Redis (prefix "tsbeat", name "prod"); `partitions`,
 * `partitioning` and `claim` are new (`claim` is written only with partitions > 1, under `{prod/<p>}`),
 * and the partition index (`entriesPartition`, shown for partition 3 of 12; written only with partitions > 1).
 */
const TODAY: Record<string, string> = {
  state: 'tsbeat:{prod}:state',
  lock: 'tsbeat:{prod}:lock',
  fence: 'tsbeat:{prod}:fence',
  claim: 'tsbeat:{prod}:claim',
  leader: 'tsbeat:{prod}:leader',
  events: 'tsbeat:{prod}:events',
  paused: 'tsbeat:{prod}:paused',
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
  entriesPartition: 'tsbeat:{prod}:entries:partition:12:3',
  entriesPartitionHead: 'tsbeat:{prod}:entries:partition:',
  entriesPartitionBuild: 'tsbeat:{prod}:entries:partition:x:build',
  entriesReceipt: 'tsbeat:{prod}:entries:receipt:x',
  statics: 'tsbeat:{prod}:statics',
  staticsId: 'tsbeat:{prod}:statics:id',
  alertItems: 'tsbeat:{prod}:alerts:items',
  alertsDue: 'tsbeat:{prod}:alerts:due',
  alertsSent: 'tsbeat:{prod}:alerts:sent',
  runs: 'tsbeat:{prod}:runs:x',
  runsPending: 'tsbeat:{prod}:runs:pending',
  runsFinished: 'tsbeat:{prod}:finished',
  failures: 'tsbeat:{prod}:failures',
  pauseNotes: 'tsbeat:{prod}:paused:notes',
  notes: 'tsbeat:{prod}:notes',
  replicas: 'tsbeat:{prod}:replicas',
  replicaExpiry: 'tsbeat:{prod}:replicas:expiry',
  failing: 'tsbeat:{prod}:failing',
  audit: 'tsbeat:{prod}:audit',
  partitions: 'tsbeat:{prod}:partitions',
  partitioning: 'tsbeat:{prod}:partitioning',
};

/** The hash tag Redis Cluster slots a key by: between the first "{" and the next "}", when not empty. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('the keys of a deployment of one partition', () => {
  it('are the names deployments have today, every one of them', () => {
    expect(named(partitionKeys('tsbeat', 'prod', 0, 1))).toEqual(TODAY);
    expect(named(schedulerKeys('tsbeat', 'prod'))).toEqual(TODAY);
  });

  it('keep the escape of an entry named "pending" and the names without a prefix', () => {
    const keys = partitionKeys('tsbeat', 'prod', 0, 1);
    expect([keys.runs('pending'), keys.runs('=a'), keys.runsPending]).toEqual([
      'tsbeat:{prod}:runs:=pending',
      'tsbeat:{prod}:runs:==a',
      'tsbeat:{prod}:runs:pending',
    ]);
    expect(named(partitionKeys('', 'prod', 0, 1))).toEqual(Object.fromEntries(Object.entries(TODAY).map(([f, k]) => [f, k.slice(7)])));
  });

  it('have a Redis type named for every key that holds a value, the partition map a hash', () => {
    expect(SCHEDULER_KEY_TYPES.partitions).toBe('hash');
    for (const field of Object.keys(SCHEDULER_KEY_TYPES)) expect(TODAY).toHaveProperty(field);
  });
});

describe('the keys of a deployment of several partitions', () => {
  const n = 12;
  const today = named(schedulerKeys('tsbeat', 'prod'));
  const parts = Array.from({ length: n }, (_, p) => named(partitionKeys('tsbeat', 'prod', p, n)));

  it("are each partition's own under the tag {<name>/<partition>}, named as today's otherwise", () => {
    parts.forEach((keys, p) => {
      for (const [field, key] of Object.entries(keys)) {
        if ((DEPLOYMENT_KEYS as readonly string[]).includes(field)) continue;
        expect(key, field).toBe((today[field] as string).replace('{prod}', `{prod/${p}}`));
        expect(hashTag(key), field).toBe(`prod/${p}`);
      }
    });
    expect(parts[3]?.state).toBe('tsbeat:{prod/3}:state');
    expect(partitionKeys('tsbeat', 'prod', 11, n).runs('pending')).toBe('tsbeat:{prod/11}:runs:=pending');
  });

  it("keep the deployment's keys (replicas, alerts, audit, the partition map) as they are, in every partition", () => {
    expect([...DEPLOYMENT_KEYS].sort()).toEqual([
      'alertItems',
      'alertsDue',
      'alertsSent',
      'audit',
      'partitioning',
      'partitions',
      'replicaExpiry',
      'replicas',
    ]);
    for (const keys of parts)
      for (const field of DEPLOYMENT_KEYS) {
        expect(keys[field], field).toBe(today[field]);
        expect(hashTag(keys[field] as string)).toBe('prod');
      }
  });

  it("share no key between two partitions, nor with the deployment's", () => {
    const all = new Set<string>();
    let count = 0;
    for (const keys of parts)
      for (const [field, key] of Object.entries(keys))
        if (!(DEPLOYMENT_KEYS as readonly string[]).includes(field)) {
          all.add(key);
          count += 1;
        }
    for (const field of DEPLOYMENT_KEYS) all.add(today[field] as string);
    expect(all.size).toBe(count + DEPLOYMENT_KEYS.length);
    expect(new Set(parts.map((keys) => hashTag(keys.state as string))).size).toBe(n);
  });

  it('refuses a partition outside the count, or a count that is not a whole number from 1', () => {
    expect(() => partitionKeys('tsbeat', 'prod', 12, 12)).toThrow('partitionKeys: partition 12 of 12: partitions are numbered 0 to 11');
    expect(() => partitionKeys('tsbeat', 'prod', -1, 12)).toThrow('partitionKeys: partition -1 of 12');
    expect(() => partitionKeys('tsbeat', 'prod', 0.5, 12)).toThrow('partitionKeys: partition 0.5 of 12');
    expect(() => partitionKeys('tsbeat', 'prod', 0, 0)).toThrow('partitionKeys: 0 partitions: the count is a whole number from 1');
  });
});
