/**
 * Concurrency groups end to end (issue 70) with real Celery workers (Debian's 5.2.6) and a Redis
 * result backend: six entries of one group with limit 2, all due at the same instants, run a slow
 * task on three workers (room for three at once). Never more than two ran at once, every due run
 * ran once (its slot's own task id), in the order of their slots, across a SIGKILL of the leader
 * while runs waited; a group with whenFull "skip" passes the runs over that find it full.
 * Redis: a private redis-server (broker and state on DB 0, results on DB 1).
 * Oracle: the workers' own record of each run (tsbeat_test.held: id, entry, slot, start, end).
 */
import type { Redis } from 'ioredis';
import { mostAtOnce } from '../support/run-spans.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { slotTaskId } from '../../src/celery/task-id.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { pythonCelery, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { killCliChildren, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

interface Held {
  readonly id: string;
  readonly entry: string;
  readonly slot: string | null;
  readonly start: number;
  readonly end: number;
}

suite(`concurrency groups with real Celery workers${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;
  let results: Redis;
  let state: Redis;
  const workers: CeleryProcess[] = [];

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    redis = await startPrivateRedis();
    results = redis.client(1);
    state = redis.client(0);
    const env = { broker: redis.url(0), backend: redis.url(1) };
    workers.push(
      ...(await Promise.all(['g1', 'g2', 'g3'].map((n) => startWorker({ name: `group-${n}`, queues: ['celery'], env, events: true })))),
    );
  }, 90_000);

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    await stopAll(workers);
    results?.disconnect();
    state?.disconnect();
    await redis?.stop();
    dir.remove();
  });

  const held = async (): Promise<Held[]> => (await results.lrange('tsbeat-test:held', 0, -1)).map((t) => JSON.parse(t) as Held);

  it('runs at most limit at once, every due run once and in order, across a SIGKILL of the leader while runs wait', async () => {
    const name = uniqueName('group');
    const entries = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(0) },
      resultBackend: redis.url(1),
      taskEvents: true,
      lock: FAST_LOCK,
      beatSchedule: Object.fromEntries(
        entries.map((e) => [
          e,
          { task: 'tsbeat_test.held', schedule: 6, args: [e, 1.2], concurrency: { group: 'reports', limit: 2, whenFull: 'wait' } },
        ]),
      ),
    });
    const waitingKey = schedulerKeys('tsbeat', name).waiting;
    const first = fleet.spawn({ config: file, label: 'first' });
    await first.waitForEvent(EVENTS.lockAcquired, 10_000);
    const second = fleet.spawn({ config: file, label: 'second' });
    // Runs wait: the leader is killed with their slots taken and unpublished.
    await waitUntil('runs waiting for the group', async () => ((await state.zcard(waitingKey)) >= 2 ? true : undefined), 30_000);
    const killedAtMs = Date.now();
    first.child.kill('SIGKILL');
    await second.waitForEvent(EVENTS.lockAcquired, 15_000);
    // Two more rounds of slots after the kill, every run of them finished.
    let seen: Held[] = [];
    let lastSlotMs = 0;
    await waitUntil(
      'every run of the slots up to two rounds after the kill',
      async () => {
        const runs = await held();
        seen = runs;
        const slots = [...new Set(runs.map((r) => Date.parse(r.slot as string)))].sort((a, b) => a - b);
        const after = slots.filter((s) => s > killedAtMs);
        if (after.length < 2) return undefined;
        lastSlotMs = after[1] as number;
        return slots
          .filter((s) => s <= lastSlotMs)
          .every((s) => runs.filter((r) => Date.parse(r.slot as string) === s).length >= entries.length)
          ? true
          : undefined;
      },
      60_000,
      () =>
        `worker ran ${JSON.stringify(seen.map((r) => [r.entry, r.slot, Math.round(r.start % 1000)]))}; beat ${JSON.stringify(second.logs.filter((l) => String(l.event).startsWith('beat.concurrency')).slice(-10))}`,
    );
    await fleet.killAll();
    const runs = await held();
    // Never more than the limit at once, on the workers' own clocks (three workers had room for three).
    expect(mostAtOnce(runs)).toBeLessThanOrEqual(2);
    // Each run once: ids are unique, and each is its slot's own task id.
    expect(new Set(runs.map((r) => r.id)).size).toBe(runs.length);
    for (const r of runs) expect(r.id).toBe(slotTaskId(name, r.entry, Date.parse(r.slot as string)));
    // None lost: every slot from the first one seen to lastSlotMs ran for every entry.
    const slotTimes = [...new Set(runs.map((r) => Date.parse(r.slot as string)))].sort((a, b) => a - b);
    const firstSlotMs = slotTimes[0] as number;
    for (let s = firstSlotMs; s <= lastSlotMs; s += 6000)
      for (const e of entries)
        expect(
          runs.filter((r) => r.entry === e && Date.parse(r.slot as string) === s),
          `${e} at ${new Date(s).toISOString()}`,
        ).toHaveLength(1);
    // In order: the leaders published the slots in their order (a worker may start the two runs in
    // flight in either order), each run once.
    const published = [...first.logs, ...second.logs]
      .filter(
        (l) => l.event === EVENTS.fire || (l.event === EVENTS.concurrencyRelease && String(l.msg).startsWith('waiting run published')),
      )
      .map((l) => ({ entry: String(l['entry']), slot: Date.parse(String(l['slot'])) }));
    // The new leader published runs the first one had left waiting.
    expect(second.logs.some((l) => l.event === EVENTS.concurrencyRelease && Date.parse(String(l['slot'])) < killedAtMs)).toBe(true);
    const order = published.map((p) => p.slot);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(new Set(published.map((p) => `${p.entry} ${p.slot}`)).size).toBe(published.length);
  }, 150_000);

  it('passes over the runs that find a group with whenFull "skip" full, reported missed; beat check refuses a group without an outcome source', async () => {
    await fleet.killAll();
    await results.del('tsbeat-test:held');
    const name = uniqueName('group-skip');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(0) },
      resultBackend: redis.url(1),
      lock: FAST_LOCK,
      beatSchedule: Object.fromEntries(
        ['s1', 's2', 's3'].map((e) => [
          e,
          { task: 'tsbeat_test.held', schedule: 4, args: [e, 2.5], concurrency: { group: 'one', limit: 1, whenFull: 'skip' } },
        ]),
      ),
    });
    const beat = fleet.spawn({ config: file, label: 'skip' });
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
    const skipped = await beat.waitForEvent(EVENTS.concurrencyFull, 20_000);
    expect(skipped).toMatchObject({ group: 'one', limit: 1, whenFull: 'skip' });
    await waitUntil(
      'three runs',
      async () => ((await held()).filter((r) => r.entry.startsWith('s')).length >= 3 ? true : undefined),
      40_000,
    );
    await fleet.killAll();
    // The first case's runs still queued may run meanwhile: this case's entries' only.
    const runs = (await held()).filter((r) => r.entry.startsWith('s'));
    expect(mostAtOnce(runs), JSON.stringify(runs.map((r) => [r.entry, r.slot, r.start % 100, r.end % 100]))).toBe(1);
    // Each slot ran one of its three entries: the others were passed over, not kept.
    expect(new Set(runs.map((r) => r.slot)).size).toBe(runs.length);
    expect(await state.zcard(schedulerKeys('tsbeat', name).waiting)).toBe(0);
    const status = await runBeatCli(['status', '--json', '--config', file]);
    expect((JSON.parse(status.stdout) as { groups: unknown }).groups).toEqual([
      { group: 'one', limit: 1, running: expect.any(Number) as number, waiting: 0, entries: 3 },
    ]);
    const text = await runBeatCli(['status', '--wide', '--config', file]);
    expect(text.stdout).toMatch(/group one: \d running, 0 waiting, limit 1 \(3 entries\)/);

    const bare = dir.write(`${name}-bare.json`, {
      name,
      broker: { url: redis.url(0) },
      taskEvents: false,
      beatSchedule: {
        a: { task: 'x', schedule: 5, concurrency: { group: 'g', limit: 1 } },
        b: { task: 'x', schedule: 5, concurrency: { group: 'g', limit: 3 } },
      },
    });
    const check = await runBeatCli(['check', '--config', bare]);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain('beatSchedule.a.concurrency');
    expect(check.stderr).toContain('set resultBackend');
    expect(check.stderr).toContain('group "g" has limit 1 on entry "a" and 3 here');
  }, 90_000);
});
