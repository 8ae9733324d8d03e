/**
 * A live replica that cannot lead is not handed partitions (issue 34, step F): `partitions: 4` with
 * two `beat run` replicas as real processes on a private Redis, the second with its wall clock 30 s
 * ahead (libfaketime, test/support/faketime.ts), past lock.maxClockSkew, so that its own check
 * refuses every attempt at a lock. It heartbeats, so the partition map gives it two partitions; it
 * never claims them (keys.ts `claim`), so the first replica keeps them: no partition is ever without
 * a leader for longer than a short bound while both run, read from Redis (each partition's lock and
 * leader record) in a loop. Once its clock is put right it claims them, and they are handed over.
 * Every (entry, slot) goes out once, read from the broker's list.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { assignPartitions } from '../../src/core/partition.js';
import { partitionKeys, schedulerKeys } from '../../src/redis/keys.js';
import { FAST_LOCK, partitionLeaderPids, pidOfInstance, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { beatSuite } from '../support/beat-suite.js';
import { byEntry, checkSlots, duplicates, readQueue } from '../support/beat-queue.js';
import { FAKETIME_HINT, SteppableClock, libfaketime } from '../support/faketime.js';

const N = 4;
const NAME = 'claims';
const TTL_MS = 2000;
/** A sample's round trip and the polling's period on a loaded machine; a partition handed to a replica that cannot lead stayed free a TTL. */
const LEADERLESS_BOUND_MS = 500;

/** Who leads each partition now: the pid whose leader record's token holds the lock, or undefined. */
const leaders = (client: Redis) => partitionLeaderPids(client, NAME, N);

/** Samples the leaders every ~20 ms until stopped: for each partition, the longest stretch seen with no leader. */
function watchGaps(client: Redis): { stop: () => Promise<number[]>; seen: Set<number> } {
  const since: (number | undefined)[] = new Array<number | undefined>(N).fill(undefined);
  const longest = new Array<number>(N).fill(0);
  const seen = new Set<number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const led = await leaders(client);
      const now = Date.now();
      led.forEach((pid, p) => {
        if (pid !== undefined) {
          seen.add(pid);
          since[p] = undefined;
        } else since[p] ??= now;
        const start = since[p];
        if (start !== undefined) longest[p] = Math.max(longest[p] ?? 0, now - start);
      });
      await sleep(20);
    }
  })();
  return {
    seen,
    stop: async () => {
      running = false;
      await loop;
      return longest;
    },
  };
}

describe('partitions and a replica that cannot lead', () => {
  const suite = beatSuite();

  it('a live replica whose clock is off is given partitions by the map but never handed them (none leaderless); put right, it claims and takes them', async () => {
    if (libfaketime() === undefined) throw new Error(FAKETIME_HINT);
    await suite.client.flushdb();
    const beatSchedule = Object.fromEntries(
      Array.from({ length: 16 }, (_, i) => [`k${String(i).padStart(2, '0')}`, { task: `t.k${i}`, schedule: 1, catchUp: 'all' }]),
    );
    const config = suite.dir.write(`${NAME}.json`, {
      name: NAME,
      partitions: N,
      broker: { url: suite.redis.url(0) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule,
    });
    const ledAs = (what: string, want: readonly (BeatProcess | undefined)[], timeoutMs: number) =>
      waitUntil(
        what,
        async () => ((await leaders(suite.client)).every((pid, p) => pid === want[p]?.pid) ? true : undefined),
        timeoutMs,
        () => suite.fleet.dump(),
      );
    const a = suite.fleet.spawn({ config, label: 'A' });
    await ledAs('A leading every partition', [a, a, a, a], 15_000);

    const gaps = watchGaps(suite.client);
    const clock = new SteppableClock(suite.dir.path, 'skewed');
    clock.step('+30s');
    const b = suite.fleet.spawn({ config, label: 'B (clock 30 s ahead)', env: clock.env() });
    // B's heartbeats, dated 30 s ahead by its clock, expire by Redis's: A's record stays (below, no
    // map of B's ever leaves A out). Both ids from the registry.
    const replicaIds = async () => (await suite.client.hkeys(schedulerKeys('tsbeat', NAME).replicas)).sort();
    const both = await waitUntil(
      'A and B in the replicas registry',
      async () => {
        const found = await replicaIds();
        const pids = found.map(pidOfInstance);
        return found.length === 2 && pids.includes(a.pid) && pids.includes(b.pid) ? found : undefined;
      },
      15_000,
      () => suite.fleet.dump(),
    );
    const aId = both.find((id) => pidOfInstance(id) === a.pid) as string;
    const bId = both.find((id) => pidOfInstance(id) === b.pid) as string;
    const ids = [aId, bId];
    const byPid = new Map([a, b].map((p) => [p.pid, p]));
    const map = assignPartitions(N, ids).map((id) => byPid.get(pidOfInstance(id)) as BeatProcess);
    const theirs = map.flatMap((p, partition) => (p === b ? [partition] : []));
    expect(theirs).toHaveLength(2);
    await b.waitForEvent('beat.clock.skew', 10_000);
    // A keeps B's two, and says why once each, after a TTL of reads without B's claim.
    await a.waitForLog(
      "A keeping B's partitions for want of its claim",
      () => a.events('beat.partitions.hand_over_held').length === theirs.length,
      15_000,
    );
    expect(
      a
        .events('beat.partitions.hand_over_held')
        .map((l) => l['partition'])
        .sort(),
    ).toEqual(theirs);
    // Five TTLs more: before claims, each of B's partitions went leaderless a TTL every ~6 TTLs.
    await sleep(5 * TTL_MS);
    expect(a.events('beat.partitions.handed_over')).toEqual([]);
    expect(await ledAs('A still leading every partition', [a, a, a, a], 1000)).toBe(true);
    for (const p of theirs) expect(await suite.client.get(partitionKeys('tsbeat', NAME, p, N).claim)).toBeNull();
    const whileSkewed = await gaps.stop();
    expect(gaps.seen).toEqual(new Set([a.pid]));
    expect(Math.max(...whileSkewed)).toBeLessThan(LEADERLESS_BOUND_MS);
    // A's record was never dropped by B's heartbeats: still there, and every map B computed had both.
    expect(await replicaIds()).toEqual(both);
    expect(b.events('beat.partitions.map_changed').map((l) => l['replicas'])).toEqual([2]);

    // B's clock put right: its attempts pass its checks, it claims its two, and A hands them over.
    const again = watchGaps(suite.client);
    clock.step('+0');
    await ledAs('A and B leading the two the partition map gives each', map, 15_000);
    for (const p of theirs) expect(await suite.client.get(partitionKeys('tsbeat', NAME, p, N).claim)).toBe(bId);
    expect(a.events('beat.partitions.handed_over').map((l) => l['partition'])).toHaveLength(theirs.length);
    await sleep(2000);
    const handedOver = await again.stop();
    // A hand-over leaves a partition free from the release to the taker's lock: a round trip or two.
    expect(Math.max(...handedOver)).toBeLessThan(TTL_MS);
    expect(b.events('beat.partitions.map_changed').map((l) => l['replicas'])).toEqual([2]);

    for (const p of [b, a]) {
      p.signal('SIGTERM');
      expect(await p.waitForExit(10_000), p.tail()).toEqual({ code: 0, signal: null });
    }
    const runs = await readQueue(suite.client);
    expect(duplicates(runs)).toEqual({ slots: [], ids: [] });
    const published = byEntry(runs);
    expect([...published.keys()].sort()).toEqual(Object.keys(beatSchedule).sort());
    for (const [entry, list] of published)
      expect(checkSlots(entry, list, 1000, NAME)).toMatchObject({ duplicateSlots: [], duplicateIds: [], missingSlots: [], offGrid: [] });
  });
});
