/**
 * The first proof: three `beat run` replicas on one config (shared Redis, DB 8, this file's
 * only DB), the leader SIGKILLed twenty times (within two minutes), a killed replica restarted each
 * time so that three run. Afterwards every slot of every entry, from its first to its last, must
 * have been published exactly once: no gap, no duplicate, by `beat_scheduled_at` and by task id,
 * and the stored state must agree with the queue.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schedulerKeys } from '../../src/redis/keys.js';
import { RedisStateStore } from '../../src/redis/state-store.js';
import { BeatFleet, FAST_LOCK, TempDir, currentLeader, logTimeMs, sleep, waitUntil } from '../support/beat-process.js';
import { byEntry, checkSlots, readQueue } from '../support/beat-queue.js';

const DB = 8;
const URL = `redis://127.0.0.1:6379/${DB}`;
const NAME = 'exactly-once';
/** SIGKILLs of the leader, each a failover the slots must survive. */
const KILLS = 20;
/**
 * The time the twenty may take: each is a failover within the lock's TTL (2 s) after a random wait
 * of up to 2.5 s. The test used to kill for this long and count at least twenty; it now stops at
 * twenty (~90 s), the property it held the fleet to.
 */
const CHAOS_MS = 120_000;
const S = 1000;
const ENTRIES: Record<string, number> = { 'every-1s-a': 1, 'every-1s-b': 1, 'every-1s-c': 1, 'every-2s': 2 };

const fleet = new BeatFleet();
const dir = new TempDir();
let redis: Redis;

beforeAll(async () => {
  redis = new Redis(URL);
  await redis.flushdb();
});

afterAll(async () => {
  await fleet.killAll();
  await redis.flushdb();
  redis.disconnect();
  dir.remove();
});

describe('exactly once under repeated leader SIGKILL', () => {
  it(
    'publishes every slot of every entry exactly once while the leader is SIGKILLed twenty times within two minutes (catchUp "all")',
    async () => {
      const beatSchedule = Object.fromEntries(
        Object.entries(ENTRIES).map(([name, every]) => [name, { task: `t.${name}`, schedule: every, catchUp: 'all' }]),
      );
      const config = dir.write('exactly-once.json', {
        name: NAME,
        broker: { url: URL },
        maxInterval: '200ms',
        lock: FAST_LOCK,
        beatSchedule,
      });
      for (let i = 0; i < 3; i += 1) fleet.spawn({ config });

      const started = Date.now();
      const failovers: number[] = [];
      let kills = 0;
      while (kills < KILLS && Date.now() - started < CHAOS_MS) {
        const leader = await waitUntil(
          'a leader',
          () => currentLeader(redis, fleet, NAME),
          15_000,
          () => fleet.dump(),
        );
        const ledAt = leader.logs.length;
        // Let it publish, then kill it at a random moment: often in the middle of a publish.
        await leader.waitForLog('a publish', (l) => l.event === 'beat.fire', 5000, ledAt - 1).catch(() => undefined);
        await sleep(Math.floor(Math.random() * 2500));
        const others = fleet.alive().filter((p) => p !== leader);
        const marks = new Map(others.map((p) => [p, p.logs.length]));
        leader.signal('SIGKILL');
        const killedAt = Date.now();
        kills += 1;
        expect((await leader.waitForExit(5000)).signal).toBe('SIGKILL');
        const replacement = fleet.spawn({ config });
        marks.set(replacement, 0); // the replacement may be the one that takes over
        const next = await waitUntil(
          'a standby to take over after the SIGKILL',
          () => [...marks].map(([p, mark]) => p.events('beat.lock.acquired', mark)[0]).find((l) => l !== undefined),
          10_000,
          () => fleet.dump(),
        );
        failovers.push(logTimeMs(next) - killedAt);
      }

      // Let the last leader catch up, then stop everyone cleanly.
      await waitUntil(
        'a leader at the end',
        () => currentLeader(redis, fleet, NAME),
        15_000,
        () => fleet.dump(),
      );
      await sleep(2500);
      const stoppedAt = Date.now();
      const running = fleet.alive();
      // Only SIGKILLs may have ended a replica: none exited on its own.
      const died = fleet.all.filter((p) => !p.alive && p.exitInfo?.signal !== 'SIGKILL');
      expect(died.map((p) => p.tail(60)).join('\n')).toBe('');
      expect(running).toHaveLength(3);
      // The last replacement may still be starting (on a busy machine, longer than the wait above):
      // its first log line comes after its SIGTERM handler is in place; before it, SIGTERM kills it.
      for (const p of running) await p.waitForEvent('beat.start', 15_000);
      for (const p of running) p.signal('SIGTERM');
      for (const p of running) expect(await p.waitForExit(10_000), p.tail()).toEqual({ code: 0, signal: null });

      const sorted = [...failovers].sort((a, b) => a - b);
      console.info(
        `exactly-once: ${kills} leader kills in ${Math.round((stoppedAt - started) / 1000)} s; failover after SIGKILL (ms): ` +
          `min ${sorted[0]}, median ${sorted[Math.floor(sorted.length / 2)]}, max ${sorted[sorted.length - 1]}`,
      );
      expect(kills).toBeGreaterThanOrEqual(KILLS);
      // Lock TTL 2 s: a standby takes over within the TTL plus one retry and some slack.
      expect(sorted[sorted.length - 1]).toBeLessThan(2000 + 200 + 1500);

      const runs = byEntry(await readQueue(redis));
      const state = await new RedisStateStore(redis, schedulerKeys('tsbeat', NAME)).readAll();
      expect([...runs.keys()].sort()).toEqual(Object.keys(ENTRIES).sort());
      for (const [entry, every] of Object.entries(ENTRIES)) {
        const list = runs.get(entry) ?? [];
        const report = checkSlots(entry, list, every * S, NAME);
        expect(report).toMatchObject({ entry, duplicateSlots: [], duplicateIds: [], missingSlots: [], offGrid: [], wrongIds: [] });
        // It ran the whole time: from the first seconds to the last.
        expect(report.firstMs).toBeLessThan(started + 5 * S + every * S);
        expect(report.lastMs).toBeGreaterThan(stoppedAt - 3 * S - every * S);
        // Pushes and state moved together: one stored run per message, the last slot stored.
        expect(state.get(entry)).toMatchObject({ slotMs: report.lastMs, runCount: report.count, lastTaskId: list[list.length - 1]?.id });
      }
    },
    CHAOS_MS + 90_000,
  );
});
