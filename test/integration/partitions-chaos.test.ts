/**
 * The chaos test of issue 34: `partitions: 12` with real `beat run` replicas on a private Redis, 300
 * entries every 2 seconds with `catchUp: all`, published to the broker's list, which the test reads
 * on its own (never tsbeat's logs). Who leads which partition is read from Redis (each partition's
 * lock and leader record). Three replicas lead 4 partitions each (the partition map) and each
 * publishes between half and twice its fair share; then one is SIGKILLed, one SIGSTOPped and later
 * SIGCONTed, a fourth joins and takes its share by hand-overs, and one stops cleanly (SIGTERM), its
 * share moving at once. After each change every partition has a leader again within the lock's TTL
 * (a hand-over leaves it leaderless for far less); at the end every (entry, slot) went out exactly
 * once: none twice, none lost. Bounds on time are generous (a loaded 2-core machine); exactness is
 * on duplicates and lost slots only.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { partitionOf } from '../../src/core/partition.js';
import { FAST_LOCK, partitionLeaderPids, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { beatSuite } from '../support/beat-suite.js';
import { byEntry, checkSlots, decodeEnvelope, duplicates } from '../support/beat-queue.js';

const N = 12;
const ENTRIES = 300;
const EVERY_S = 2;
const TTL_MS = 2000;
/** Lock expiry, a registry read (a third of the TTL), a retry and slack for a loaded machine. */
const TAKEOVER_MS = TTL_MS + 3000;
const NAME = 'chaos';

/** Who leads each partition now: the pid whose leader record's token holds the lock, or undefined. */
const leaders = (client: Redis) => partitionLeaderPids(client, NAME, N);

/** How many partitions each pid leads. */
function shares(led: readonly (number | undefined)[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of led) if (pid !== undefined) out.set(pid, (out.get(pid) ?? 0) + 1);
  return out;
}

/**
 * Samples the leaders every ~30 ms until stopped: for each partition, the longest stretch seen with
 * no live leader (no lock, or the lock of a replica that is not in `live`).
 */
function watchGaps(client: Redis, live: () => ReadonlySet<number>): { stop: () => Promise<number[]> } {
  const since: (number | undefined)[] = new Array<number | undefined>(N).fill(undefined);
  const longest = new Array<number>(N).fill(0);
  let running = true;
  const loop = (async () => {
    while (running) {
      const led = await leaders(client);
      const now = Date.now();
      const alive = live();
      led.forEach((pid, p) => {
        if (pid !== undefined && alive.has(pid)) since[p] = undefined;
        else since[p] ??= now;
        const start = since[p];
        if (start !== undefined) longest[p] = Math.max(longest[p] ?? 0, now - start);
      });
      await sleep(30);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return longest;
    },
  };
}

describe('partitions chaos', () => {
  const suite = beatSuite();

  it('3 replicas lead 4 of 12 partitions each and publish about a third each; a SIGKILL, a SIGSTOP/SIGCONT, a join and a clean leave: every partition led again within the TTL, every (entry, slot) exactly once', async () => {
    const client = suite.client;
    await client.flushdb();
    const names = Array.from({ length: ENTRIES }, (_, i) => `c${String(i).padStart(3, '0')}`);
    const counts = new Array<number>(N).fill(0);
    for (const name of names) counts[partitionOf(name, N)] = (counts[partitionOf(name, N)] ?? 0) + 1;
    expect(counts.every((n) => n > 0)).toBe(true);
    const config = suite.dir.write(`${NAME}.json`, {
      name: NAME,
      partitions: N,
      broker: { url: suite.redis.url(0) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: Object.fromEntries(names.map((n) => [n, { task: `t.${n}`, schedule: EVERY_S, catchUp: 'all' }])),
    });
    const dump = () => suite.fleet.dump();
    const alivePids = () => new Set(suite.fleet.alive().map((p) => p.pid));
    /** Waits until every partition is led by one of `among`, each leading `each` (or any split when undefined). */
    const ledBy = (what: string, among: readonly BeatProcess[], each: number | undefined, timeoutMs: number) =>
      waitUntil(
        what,
        async () => {
          const led = await leaders(client);
          const pids = new Set(among.map((p) => p.pid));
          if (!led.every((pid) => pid !== undefined && pids.has(pid))) return undefined;
          const split = shares(led);
          return each === undefined || among.every((p) => split.get(p.pid) === each) ? led : undefined;
        },
        timeoutMs,
        dump,
      );

    // Three replicas: the map gives each 4 partitions (12 over 3, capped), read from the locks.
    const a = suite.fleet.spawn({ config, label: 'A' });
    const b = suite.fleet.spawn({ config, label: 'B' });
    const c = suite.fleet.spawn({ config, label: 'C' });
    await ledBy('A, B and C leading 4 partitions each', [a, b, c], 4, 30_000);

    // While all three are up, the split holds and each publishes about a third of the runs.
    const windowFrom = Date.now() + 500;
    await sleep(3 * EVERY_S * 1000 + 1000);
    const windowTo = Date.now() - 500;
    expect(shares(await leaders(client)), 'the split unchanged').toEqual(new Map([a, b, c].map((p) => [p.pid, 4])));
    const byOrigin = new Map<string, number>();
    for (const raw of await client.lrange('celery', 0, -1)) {
      const run = decodeEnvelope(raw);
      if (run.slotMs < windowFrom || run.slotMs >= windowTo) continue;
      const origin = (JSON.parse(raw) as { headers: { origin: string } }).headers.origin;
      byOrigin.set(origin, (byOrigin.get(origin) ?? 0) + 1);
    }
    const total = [...byOrigin.values()].reduce((x, y) => x + y, 0);
    expect(total).toBeGreaterThan(ENTRIES);
    for (const p of [a, b, c]) {
      const mine = [...byOrigin].find(([origin]) => origin.startsWith(`gen${p.pid}@`))?.[1] ?? 0;
      expect(mine, `${p.label}'s runs of ${total}`).toBeGreaterThanOrEqual(total / 3 / 2);
      expect(mine, `${p.label}'s runs of ${total}`).toBeLessThanOrEqual((total / 3) * 2);
    }

    // A dies without a word: B and C take its partitions, within the TTL and a registry read.
    a.signal('SIGKILL');
    const killedAt = Date.now();
    await a.waitForExit(10_000);
    await ledBy('B and C leading every partition', [b, c], undefined, TAKEOVER_MS + 10_000);
    expect(Date.now() - killedAt, 'every partition led again within the TTL and a read').toBeLessThan(TAKEOVER_MS);
    await ledBy('B and C leading 6 partitions each', [b, c], 6, 15_000);

    // B stops answering (SIGSTOP): C takes everything as it would from a dead replica; B comes
    // back (SIGCONT), no longer leads what it held, and takes its share back by hand-overs.
    b.signal('SIGSTOP');
    const stoppedAt = Date.now();
    await ledBy('C leading every partition while B is stopped', [c], N, TAKEOVER_MS + 10_000);
    expect(Date.now() - stoppedAt, 'C took every partition within the TTL and a read').toBeLessThan(TAKEOVER_MS);
    await sleep(500);
    const backGaps = watchGaps(client, () => new Set([b.pid, c.pid]));
    b.signal('SIGCONT');
    await ledBy('B and C leading 6 partitions each after SIGCONT', [b, c], 6, 20_000);
    const backLongest = await backGaps.stop();
    expect(Math.max(...backLongest), `the longest gap of a partition as B came back: ${backLongest.join(', ')} ms`).toBeLessThan(TTL_MS);

    // A fourth replica joins: it takes its share, each partition handed over (no lock left to expire).
    const joinGaps = watchGaps(client, alivePids);
    const d = suite.fleet.spawn({ config, label: 'D' });
    await ledBy('B, C and D leading 4 partitions each', [b, c, d], 4, 30_000);
    const joinLongest = await joinGaps.stop();
    expect(Math.max(...joinLongest), `the longest gap of a partition while D joined: ${joinLongest.join(', ')} ms`).toBeLessThan(TTL_MS);

    // C stops cleanly: it leaves the registry, then releases its locks, and B and D take them at once.
    const leaveGaps = watchGaps(client, () => new Set([b.pid, d.pid]));
    c.signal('SIGTERM');
    expect(await c.waitForExit(15_000), c.tail()).toEqual({ code: 0, signal: null });
    await ledBy('B and D leading 6 partitions each after C left', [b, d], 6, 15_000);
    const leaveLongest = await leaveGaps.stop();
    // From the SIGTERM, a partition waits for C's stop (its sessions' last publishes) and a hand-over, never the TTL.
    expect(Math.max(...leaveLongest), `the longest gap of a partition while C left: ${leaveLongest.join(', ')} ms`).toBeLessThan(TTL_MS);

    await sleep(EVERY_S * 1000 + 1000);
    const endMs = Date.now();
    for (const p of [b, d]) p.signal('SIGTERM');
    for (const p of [b, d]) expect(await p.waitForExit(15_000), p.tail()).toEqual({ code: 0, signal: null });

    // The broker's list: every (entry, slot) once, none lost from the first to past the last change.
    const runs = (await client.lrange('celery', 0, -1)).reverse().map(decodeEnvelope);
    expect(duplicates(runs)).toEqual({ slots: [], ids: [] });
    const published = byEntry(runs);
    expect([...published.keys()].sort()).toEqual(names);
    const lost: string[] = [];
    for (const [entry, list] of published) {
      const report = checkSlots(entry, list, EVERY_S * 1000, NAME);
      expect(report, entry).toMatchObject({ duplicateSlots: [], duplicateIds: [], offGrid: [], wrongIds: [] });
      if (report.missingSlots.length > 0) lost.push(`${entry}: ${report.missingSlots.map((s) => new Date(s).toISOString()).join(', ')}`);
      // Published from before the first change to after the last: a partition never left behind.
      if (report.firstMs > windowTo) lost.push(`${entry}: first published at ${new Date(report.firstMs).toISOString()}, after the start`);
      if (report.lastMs < endMs - 2 * EVERY_S * 1000 - 1000)
        lost.push(`${entry}: last published at ${new Date(report.lastMs).toISOString()}, before the end`);
    }
    expect(lost).toEqual([]);
  });
});
