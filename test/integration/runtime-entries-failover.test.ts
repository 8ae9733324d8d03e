/**
 * Runtime entries across a SIGKILL failover in the middle of a stream of edits: a leader and a
 * standby (real processes) on a private Redis, entries created, edited (args), created and deleted
 * through the store every 100 ms while the leader is killed. Afterwards the queue holds every slot
 * of every entry exactly once (catchUp "all": a slot missed during the failover is published late,
 * never dropped), nothing of a deleted entry after its deletion, and the last edit's args in every
 * run after it; then a real Celery worker executes every message.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { RedisEntryStore } from '../../src/redis/entry-store.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { checkSlots, duplicates, readQueue } from '../support/beat-queue.js';
import type { QueuedRun } from '../support/beat-queue.js';
import { startWorker, stopAll, waitForResult } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'tsbeat_test.record';
const QUEUE = 'edits';
const DEPLOYMENT = 'edits';
const S = 1000;

/** The args of each queued run, read from its body (kombu envelope → base64 → [args, kwargs, embed]). */
async function argsById(redis: Redis): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for (const text of await redis.lrange(QUEUE, 0, -1)) {
    const envelope = JSON.parse(text) as { body: string; headers: { id: string } };
    const [args] = JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8')) as [unknown[]];
    out.set(envelope.headers.id, args);
  }
  return out;
}

describe('runtime entries edited across a SIGKILL failover (real processes, a real Celery worker)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let worker: CeleryProcess | undefined;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
  });

  afterAll(async () => {
    await fleet.killAll();
    await stopAll([worker]);
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it('publishes every slot once, honours every edit, and loses nothing', async () => {
    const file = dir.write('edits.json', {
      name: DEPLOYMENT,
      broker: { url: server.url(0) },
      taskDefaultQueue: QUEUE,
      maxInterval: '200ms',
      lock: FAST_LOCK,
    });
    const first = fleet.spawn({ config: file });
    await first.waitForEvent(EVENTS.lockAcquired, 10_000);
    const second = fleet.spawn({ config: file });
    await second.waitForEvent(EVENTS.standby, 10_000);

    const store = new RedisEntryStore(redis, schedulerKeys('tsbeat', DEPLOYMENT));
    const entry = (args: unknown[]) => ({ task: TASK, schedule: 1, catchUp: 'all', args });
    const kept = Array.from({ length: 9 }, (_, i) => `e${i}`);
    await store.write(
      [...kept, 'doomed'].map((name) => ({ op: 'put' as const, name, entry: entry([name, 0]) })),
      { nowMs: Date.now() },
    );
    await sleep(2500);

    // 60 writes, 100 ms apart; the leader is killed after the 20th.
    const lastEdit = new Map<string, { atMs: number; args: unknown[] }>();
    let deletedAtMs = 0;
    let killedAtMs = 0;
    for (let k = 1; k <= 60; k += 1) {
      const name = kept[k % kept.length] as string;
      const args = [name, k];
      const at = Date.now();
      await store.write([{ op: 'put', name, entry: entry(args) }], { nowMs: at });
      lastEdit.set(name, { atMs: at, args });
      if (k === 15) {
        await store.write([{ op: 'delete', name: 'doomed' }], { nowMs: Date.now() });
        deletedAtMs = Date.now();
      }
      if (k === 25) {
        await store.write([{ op: 'put', name: 'late', entry: entry(['late', 0]) }], { nowMs: Date.now() });
      }
      if (k === 20) {
        const leader = [first, second].find((p) => p.logs.some((l) => l.event === EVENTS.lockAcquired)) as BeatProcess;
        leader.child.kill('SIGKILL');
        killedAtMs = Date.now();
      }
      await sleep(100);
    }
    const survivor = [first, second].find((p) => p.alive) as BeatProcess;
    await survivor.waitForEvent(EVENTS.lockAcquired, 10_000);
    await sleep(2500);
    await fleet.killAll();
    expect(killedAtMs).toBeGreaterThan(0);

    const runs = await readQueue(redis, QUEUE);
    expect(duplicates(runs)).toEqual({ slots: [], ids: [] });
    const byName = (name: string): QueuedRun[] => runs.filter((r) => r.entry === name);
    for (const name of kept) {
      const report = checkSlots(name, byName(name), S, DEPLOYMENT);
      expect(report, name).toMatchObject({ missingSlots: [], duplicateSlots: [], offGrid: [], wrongIds: [] });
      // Up to the end: the survivor caught up the slots of the failover.
      expect(report.lastMs, name).toBeGreaterThan(Date.now() - 5 * S);
    }
    // Nothing of the deleted entry after its deletion had had a second to arrive.
    expect(byName('doomed').filter((r) => r.slotMs > deletedAtMs + S)).toEqual([]);
    expect(byName('late').length).toBeGreaterThan(0);

    // Every run well after an entry's last edit carries that edit's args.
    const args = await argsById(redis);
    let checked = 0;
    for (const [name, edit] of lastEdit) {
      const after = byName(name).filter((r) => r.slotMs > Math.max(edit.atMs, killedAtMs + 4 * S) + 1.5 * S);
      for (const run of after) expect(args.get(run.id), `${name} at ${new Date(run.slotMs).toISOString()}`).toEqual(edit.args);
      checked += after.length;
    }
    expect(checked).toBeGreaterThanOrEqual(kept.length);

    // A real worker executes what was published (a sample, to keep the test short).
    worker = await startWorker({ name: 'edits', queues: [QUEUE], env: { broker: server.url(0), backend: server.url(1) } });
    const results = new Redis(server.url(1));
    try {
      const sample = [runs[0], runs[Math.floor(runs.length / 2)], runs[runs.length - 1]] as QueuedRun[];
      for (const run of sample) {
        const result = await waitForResult(results, run.id, [worker]);
        expect(result.status).toBe('SUCCESS');
        expect((result.result as { args: unknown[] }).args).toEqual(args.get(run.id));
      }
    } finally {
      results.disconnect();
    }
    await waitUntil('the queue drained', async () => ((await redis.llen(QUEUE)) === 0 ? true : undefined), 30_000);
  }, 90_000);
});
