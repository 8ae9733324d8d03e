/**
 * Issue 53's failover proof for runs of several messages (a group run, a chord run): three
 * `beat run` replicas on one config (Redis DB 7, this file's only DB: broker, state and result
 * backend), the leader SIGKILLed at random moments, often in the middle of a publish. Afterwards,
 * by the broker's list, every slot of every entry from its first to its last holds each of its
 * run's messages exactly once (the ids derived from the slot, canvasPartId): none duplicated,
 * none lost, no run torn between a killed leader and the next; and each chord run's size is in
 * the result backend. The Redis broker's one fenced script pushes a run's messages with its state,
 * all or none, so a kill can only fall before or after a run, never inside it.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canvasPartId } from '../../src/celery/canvas.js';
import { slotTaskId } from '../../src/celery/task-id.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { RedisStateStore } from '../../src/redis/state-store.js';
import { BeatFleet, FAST_LOCK, TempDir, currentLeader, sleep, waitUntil } from '../support/beat-process.js';
import { readQueue } from '../support/beat-queue.js';
import type { QueuedRun } from '../support/beat-queue.js';

const DB = 7;
const URL = `redis://127.0.0.1:6379/${DB}`;
const NAME = 'canvas-failover';
/** SIGKILLs of the leader, each a failover the runs must survive whole. */
const KILLS = 8;
const CHAOS_MS = 60_000;
const S = 1000;
/** The entries, every second, and the paths of their messages' ids under the run's id. */
const ENTRIES: Record<string, { definition: Record<string, unknown>; paths: string[] }> = {
  'group-run': {
    definition: { group: [0, 1, 2, 3, 4].map((i) => ({ task: 't.part', args: [i] })) },
    paths: [0, 1, 2, 3, 4].map((j) => `group[${j}]`),
  },
  'chord-run': {
    definition: {
      chord: {
        header: [{ chain: [{ task: 't.first' }, { task: 't.then' }] }, { task: 't.part', args: [1] }, { task: 't.part', args: [2] }],
        body: { task: 't.merge' },
      },
    },
    paths: ['header[0].chain[0]', 'header[1]', 'header[2]'],
  },
};

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

describe('group and chord runs under leader SIGKILL', () => {
  it(
    "publishes each run's messages exactly once, none torn between leaders, while the leader is SIGKILLed eight times (catchUp all)",
    async () => {
      const beatSchedule = Object.fromEntries(
        Object.entries(ENTRIES).map(([name, { definition }]) => [name, { ...definition, schedule: 1, catchUp: 'all' }]),
      );
      const config = dir.write('canvas-failover.json', {
        name: NAME,
        broker: { url: URL },
        resultBackend: URL,
        maxInterval: '200ms',
        lock: FAST_LOCK,
        beatSchedule,
      });
      for (let i = 0; i < 3; i += 1) fleet.spawn({ config });

      const started = Date.now();
      let kills = 0;
      while (kills < KILLS && Date.now() - started < CHAOS_MS) {
        const leader = await waitUntil(
          'a leader',
          () => currentLeader(redis, fleet, NAME),
          15_000,
          () => fleet.dump(),
        );
        const ledAt = leader.logs.length;
        await leader.waitForLog('a publish', (l) => l.event === 'beat.fire', 5000, ledAt - 1).catch(() => undefined);
        await sleep(Math.floor(Math.random() * 1500));
        leader.signal('SIGKILL');
        kills += 1;
        expect((await leader.waitForExit(5000)).signal).toBe('SIGKILL');
        fleet.spawn({ config });
      }
      await waitUntil(
        'a leader at the end',
        () => currentLeader(redis, fleet, NAME),
        15_000,
        () => fleet.dump(),
      );
      await sleep(2500);
      const running = fleet.alive();
      const died = fleet.all.filter((p) => !p.alive && p.exitInfo?.signal !== 'SIGKILL');
      expect(died.map((p) => p.tail(60)).join('\n')).toBe('');
      for (const p of running) await p.waitForEvent('beat.start', 15_000);
      for (const p of running) p.signal('SIGTERM');
      for (const p of running) expect(await p.waitForExit(10_000), p.tail()).toEqual({ code: 0, signal: null });
      expect(kills).toBe(KILLS);

      const queued = await readQueue(redis);
      const state = await new RedisStateStore(redis, schedulerKeys('tsbeat', NAME)).readAll();
      for (const [entry, { paths }] of Object.entries(ENTRIES)) {
        const bySlot = new Map<number, QueuedRun[]>();
        for (const run of queued.filter((r) => r.entry === entry)) bySlot.set(run.slotMs, [...(bySlot.get(run.slotMs) ?? []), run]);
        const slots = [...bySlot.keys()].sort((a, b) => a - b);
        const first = slots[0] ?? Number.NaN;
        const last = slots[slots.length - 1] ?? Number.NaN;
        expect(last - first, entry).toBeGreaterThan(10 * S);
        const missing = [];
        for (let s = first; s <= last; s += S) if (!bySlot.has(s)) missing.push(s);
        expect([entry, missing]).toEqual([entry, []]);
        // Each slot: its run's messages, each once, in order, with the ids derived from its slot.
        const wrong = slots.filter((slot) => {
          const runId = slotTaskId(NAME, entry, slot);
          const ids = (bySlot.get(slot) ?? []).map((r) => r.id);
          return JSON.stringify(ids) !== JSON.stringify(paths.map((p) => canvasPartId(runId, p)));
        });
        expect([entry, wrong]).toEqual([entry, []]);
        expect(state.get(entry)).toMatchObject({ slotMs: last, runCount: slots.length, lastTaskId: slotTaskId(NAME, entry, last) });
        if (entry === 'chord-run') {
          const sizes = await redis.mget(
            slots.map((slot) => `celery-taskset-meta-${canvasPartId(slotTaskId(NAME, entry, slot), 'header')}.s`),
          );
          expect(sizes.filter((size) => size !== '3')).toEqual([]);
        }
      }
      console.info(`canvas-failover: ${kills} leader kills; ${queued.length} messages checked`);
    },
    CHAOS_MS + 90_000,
  );
});
