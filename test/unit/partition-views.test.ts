/**
 * What a deployment of several partitions shows of itself, the pure parts: the metrics per replica
 * (partitions led and entries held read at scrape time, messages published counted by partition,
 * nothing of it with one partition but the gauges), the status (each entry's partition, the
 * partition map, the replicas leading any partition as leaders), and the dashboard's list (each
 * row's partition, the partition filter). The real processes are in
 * test/integration/partitions-observe.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Destination } from '../../src/celery/routing.js';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { replicaStatuses } from '../../src/control/replicas.js';
import type { LiveReplica } from '../../src/control/replicas.js';
import { buildStatus, partitionLeaders } from '../../src/control/status.js';
import { assignPartitions, partitionOf } from '../../src/core/partition.js';
import { buildIndex, pageOf, pageRow } from '../../src/dashboard/entry-rows.js';
import type { RowQuery } from '../../src/dashboard/entry-rows.js';
import { parseQuery } from '../../src/dashboard/list-query.js';
import { Refusal } from '../../src/dashboard/replies.js';
import { BeatMetrics } from '../../src/observe/metrics.js';
import { partitionMetrics } from '../../src/service/probes.js';

const N = 4;
const NAMES = Array.from({ length: 12 }, (_, i) => `job-${i}`);
const T0 = Date.UTC(2026, 10, 24, 6, 0, 0);

function configOf(partitions: number) {
  return parseConfig(
    { name: 'views', partitions, beatSchedule: Object.fromEntries(NAMES.map((n) => [n, { task: `t.${n}`, schedule: 60 }])) },
    'partition-views.test',
  );
}

const destination: Destination = {
  exchange: '',
  exchangeType: 'direct',
  routingKey: 'celery',
  declareQueue: 'celery',
  priority: undefined,
  matchedRoute: undefined,
};

/** The samples of `metric` in the exposition, as `{labels} value` lines. */
async function samples(metrics: BeatMetrics, metric: string): Promise<string[]> {
  const text = await metrics.registry.metrics();
  return [...text.matchAll(new RegExp(`^${metric}(\\{[^}]*\\})? (\\S+)$`, 'gm'))].map((m) => `${m[1] ?? ''} ${m[2]}`);
}

describe('metrics per replica', () => {
  it('read the partitions led and the entries their runners hold at scrape time, from the supervisors', async () => {
    const supervisors = [
      { leading: true, runner: { entryCount: () => 3 } },
      { leading: false, runner: undefined },
      { leading: true, runner: { entryCount: () => 5 } },
      { leading: false, runner: undefined },
    ];
    const metrics = new BeatMetrics({ processMetrics: false, partitions: N });
    metrics.readPartitionsFrom(partitionMetrics(supervisors as unknown as Parameters<typeof partitionMetrics>[0]));
    expect(await samples(metrics, 'tsbeat_partitions')).toEqual([' 4']);
    expect(await samples(metrics, 'tsbeat_partitions_led')).toEqual([' 2']);
    expect(await samples(metrics, 'tsbeat_entries_held')).toEqual([' 8']);
    // Partition 2 lost, 1 taken: the next scrape says so.
    Object.assign(supervisors[2] as object, { leading: false, runner: undefined });
    Object.assign(supervisors[1] as object, { leading: true, runner: { entryCount: () => 4 } });
    expect(await samples(metrics, 'tsbeat_partitions_led')).toEqual([' 2']);
    expect(await samples(metrics, 'tsbeat_entries_held')).toEqual([' 7']);
  });

  it('count what each partition publishes by partition, beside the per-entry counter whose labels stay entry, task, queue', async () => {
    const metrics = new BeatMetrics({ processMetrics: false, partitions: N });
    const [entry] = configOf(N).entries as ResolvedEntry[];
    const sinks = [0, 1, 2, 3].map((p) => metrics.partitionEvents(p));
    const run = { entry: entry as ResolvedEntry, slotMs: T0, id: 'id-1', destination };
    sinks[2]?.published(run, 5);
    sinks[2]?.published(run, 5);
    sinks[3]?.triggerPublished({ entry: 'job-1', task: 't.job-1', destination } as never, undefined);
    // What the process's sink counts per entry is as before.
    metrics.events.published(run, 5);
    expect(await samples(metrics, 'tsbeat_partition_messages_published_total')).toEqual(['{partition="2"} 2', '{partition="3"} 1']);
    expect(await samples(metrics, 'tsbeat_messages_published_total')).toEqual(['{entry="job-0",task="t.job-0",queue="celery"} 1']);
    // A scrape adds what was published since the one before: counted once, whatever the scrapes.
    expect(await samples(metrics, 'tsbeat_partition_messages_published_total')).toEqual(['{partition="2"} 2', '{partition="3"} 1']);
    sinks[0]?.published(run, 5);
    sinks[2]?.published(run, 5);
    expect(await samples(metrics, 'tsbeat_partition_messages_published_total')).toEqual([
      '{partition="2"} 3',
      '{partition="3"} 1',
      '{partition="0"} 1',
    ]);
  });

  it('with one partition export no series by partition (the names and labels scraped before stay as they were)', async () => {
    const metrics = new BeatMetrics({ processMetrics: false });
    metrics.readPartitionsFrom(partitionMetrics([{ leading: true, runner: { entryCount: () => 12 } }] as never));
    const [entry] = configOf(1).entries as ResolvedEntry[];
    metrics.partitionEvents(0).published({ entry: entry as ResolvedEntry, slotMs: T0, id: 'x', destination }, 1);
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('partition=');
    expect(text).not.toContain('tsbeat_partition_messages_published_total');
    expect(await samples(metrics, 'tsbeat_partitions')).toEqual([' 1']);
    expect(await samples(metrics, 'tsbeat_partitions_led')).toEqual([' 1']);
    expect(await samples(metrics, 'tsbeat_entries_held')).toEqual([' 12']);
  });
});

const record = (instance: string, startedAtMs: number): LiveReplica => ({
  instance,
  host: 'h',
  pid: 1,
  version: '0.2.0',
  role: 'standby',
  startedAtMs,
  beatAtMs: T0,
  http: null,
  heartbeatAgeMs: 0,
});

describe('the status of a deployment of several partitions', () => {
  const leaders = [
    { instance: 'b', sinceMs: T0 - 5000 },
    undefined,
    { instance: 'c', sinceMs: T0 - 1000 },
    { instance: 'b', sinceMs: T0 - 2000 },
  ];

  it('gives every entry its partition (CRC-32 of its name), the partition map with since, and the replicas leading any as leaders with theirs', () => {
    const config = configOf(N);
    const status = buildStatus({
      config,
      states: new Map(),
      paused: new Set(),
      leader: leaders[0],
      self: { instance: 'cli', role: 'cli' },
      nowMs: T0,
      replicas: [record('a', T0 - 9000), record('b', T0 - 8000), record('c', T0 - 7000)],
      partitionLeaders: leaders,
    });
    expect(status.entries.map((e) => [e.name, e.partition])).toEqual(NAMES.map((n) => [n, partitionOf(n, N)]));
    expect(new Set(status.entries.map((e) => e.partition)).size).toBeGreaterThan(1);
    // Each partition's assignee: the partition map over the registry's live ids, as the replicas compute it.
    const map = assignPartitions(N, ['c', 'a', 'b']);
    expect(status.partitions).toEqual([
      { partition: 0, leader: 'b', since: '2026-11-24T05:59:55.000Z', assigned: map[0] },
      { partition: 1, leader: null, since: null, assigned: map[1] },
      { partition: 2, leader: 'c', since: '2026-11-24T05:59:59.000Z', assigned: map[2] },
      { partition: 3, leader: 'b', since: '2026-11-24T05:59:58.000Z', assigned: map[3] },
    ]);
    // b and c lead some partitions (the lock of partition 0 alone would make c a standby); a none.
    expect(status.replicas.map((r) => [r.instance, r.role, r.partitions])).toEqual([
      ['b', 'leader', [0, 3]],
      ['c', 'leader', [2]],
      ['a', 'standby', []],
    ]);
  });

  it('with one partition has no partition fields at all', () => {
    const status = buildStatus({
      config: configOf(1),
      states: new Map(),
      paused: new Set(),
      leader: { instance: 'b', sinceMs: T0 },
      self: { instance: 'cli', role: 'cli' },
      nowMs: T0,
      replicas: [record('a', T0 - 9000), record('b', T0 - 8000)],
    });
    expect(status.entries.every((e) => !('partition' in e))).toBe(true);
    expect('partitions' in status).toBe(false);
    expect(status.replicas.map((r) => [r.instance, r.role, 'partitions' in r])).toEqual([
      ['b', 'leader', false],
      ['a', 'standby', false],
    ]);
  });

  it('lists a partition nobody leads as such', () => {
    // No live replica in the registry: no assignee either.
    expect(partitionLeaders([undefined, undefined], [])).toEqual([
      { partition: 0, leader: null, since: null, assigned: null },
      { partition: 1, leader: null, since: null, assigned: null },
    ]);
    expect(partitionLeaders([undefined, undefined], ['a']).map((p) => p.assigned)).toEqual(['a', 'a']);
    expect(replicaStatuses([record('a', T0)], undefined, [undefined])).toMatchObject([{ role: 'standby', partitions: [] }]);
  });
});

describe("the dashboard's list with partitions", () => {
  const query = (over: Partial<RowQuery> = {}): RowQuery => ({
    q: '',
    state: undefined,
    origin: undefined,
    queue: undefined,
    failing: false,
    sort: 'name',
    descending: false,
    offset: 0,
    limit: 100,
    ...over,
  });

  it("gives each row its partition and lists a partition's entries alone when asked", async () => {
    const config = configOf(N);
    const index = await buildIndex({ config, entries: config.entries, invalid: [] });
    const all = pageOf(index, query(), new Set(), T0);
    expect(all.rows.map((r) => pageRow(r, undefined, new Set()).partition)).toEqual([...NAMES].sort().map((n) => partitionOf(n, N)));
    const third = pageOf(index, query({ partition: 3 }), new Set(), T0);
    expect(third.rows.map((r) => r.name)).toEqual([...NAMES].sort().filter((n) => partitionOf(n, N) === 3));
    expect(third.wire.matched).toBeLessThan(NAMES.length);
    // One partition: no partition on the rows.
    const one = configOf(1);
    const single = await buildIndex({ config: one, entries: one.entries, invalid: [] });
    expect(pageOf(single, query(), new Set(), T0).rows.map((r) => pageRow(r, undefined, new Set()).partition)).toEqual(
      NAMES.map(() => null),
    );
  });

  it('takes partition=N from the query string and refuses one that is not a partition number, naming it', () => {
    expect(parseQuery(new URLSearchParams('partition=3')).partition).toBe(3);
    expect(parseQuery(new URLSearchParams('partition=')).partition).toBeUndefined();
    expect(parseQuery(new URLSearchParams('')).partition).toBeUndefined();
    for (const bad of ['-1', '1.5', 'x', '1024']) {
      const refused = (() => {
        try {
          parseQuery(new URLSearchParams({ partition: bad }));
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      expect(refused).toBeInstanceOf(Refusal);
      expect((refused as Refusal).message).toBe(`partition=${bad}: expected a whole number from 0 to 1023`);
    }
  });
});
