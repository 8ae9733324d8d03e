/**
 * Several specs per entry (issue 71) end to end: `beat run` runs one entry whose schedule lists two
 * crontab lines with seconds (every 2 s and every 3 s), a real Celery worker executes what it
 * publishes. Every instant of the union between the first run and the last runs exactly once: the
 * seconds divisible by 6, where both specs fire, once too, by slot, by task id and by the worker's
 * own record of what it executed (the task appends its id to a list in the result backend's DB).
 * Redis: a private redis-server (broker and state on DB 0, results on DB 1).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import { pythonCelery, resultKey, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { killCliChildren, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;
const S = 1000;

suite(`an entry with two specs run by a real Celery worker${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;
  let results: Redis;
  let worker: CeleryProcess | undefined;

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    redis = await startPrivateRedis();
    results = redis.client(1);
    worker = await startWorker({ name: 'union', queues: ['tsbeat-union'], env: { broker: redis.url(0), backend: redis.url(1) } });
  });

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    await stopAll([worker]);
    results?.disconnect();
    await redis?.stop();
    dir.remove();
  });

  it('runs each instant of the union once, the instants both specs share included', async () => {
    const name = uniqueName('union');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(0) },
      resultBackend: redis.url(1),
      lock: FAST_LOCK,
      beatSchedule: {
        both: {
          task: 'tsbeat_test.record',
          schedule: [
            { cron: '*/2 * * * * *', seconds: true },
            { cron: '*/3 * * * * *', seconds: true },
          ],
          catchUp: 'all',
          options: { queue: 'tsbeat-union' },
        },
      },
    });
    const check = await runBeatCli(['check', '--wide', '--config', file]);
    expect(check.stderr).toBe('');
    expect(check.stdout).toContain('every 2 seconds; every 3 seconds');

    const beat = fleet.spawn({ config: file, label: 'leader' });
    await beat.waitForEvent(EVENTS.lockAcquired, 60_000);
    await beat.waitForEvent(EVENTS.fire, 30_000);
    await sleep(13 * S);
    beat.signal('SIGTERM');
    expect(await beat.waitForExit(30_000), beat.tail()).toEqual({ code: 0, signal: null });

    const fires = beat.events(EVENTS.fire).filter((l) => l['entry'] === 'both');
    const slots = fires.map((l) => Date.parse(String(l['slot']))).sort((a, b) => a - b);
    const first = slots[0] as number;
    const last = slots[slots.length - 1] as number;
    const union: number[] = [];
    for (let t = first; t <= last; t += S) if ((t / S) % 2 === 0 || (t / S) % 3 === 0) union.push(t);
    // Each instant once: no duplicate slot, no gap, and at least two instants the specs share.
    expect(slots).toEqual(union);
    expect(union.filter((t) => (t / S) % 6 === 0).length).toBeGreaterThanOrEqual(2);
    const ids = fires.map((l) => String(l['id']));
    expect(new Set(ids).size).toBe(ids.length);

    // The worker executed every one of them, each once.
    await waitUntil(
      'the worker to run every published run',
      async () => {
        for (const id of ids) if ((await results.get(resultKey(id))) === null) return undefined;
        return true;
      },
      20_000,
      () => worker?.output().slice(-4000) ?? '',
    );
    const executed = await results.lrange('tsbeat-test:executed', 0, -1);
    expect([...executed].sort()).toEqual([...ids].sort());
  }, 240_000);
});
