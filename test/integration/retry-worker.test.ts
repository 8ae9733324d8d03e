/**
 * Retries acted on end to end (issue 70) with a real Celery worker (Debian's 5.2.6) and a Redis
 * result backend: a task that fails twice and then succeeds runs three times for its slot, with the
 * attempts' deterministic task ids and the headers that name them, the backoff waited between them,
 * and one slot in `beat history` (--json and the table) with its three attempts and SUCCESS; a task that always fails runs its attempts and is counted as
 * exhausted, and the attempts are counted, in /metrics.
 * Redis: a private redis-server (broker and state on DB 0, results on DB 1).
 * RabbitMQ: the same task through the shared node at 127.0.0.1:5672 (a queue of this run's own,
 * deleted afterwards), each attempt claimed, sent with confirms and committed (retry-fenced.lua).
 * Oracle: the worker's own record of each attempt it ran (tsbeat_test.fail_twice: id, headers, start).
 */
import { spawnSync } from 'node:child_process';
import { connect } from 'amqplib';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { attemptTaskId } from '../../src/celery/task-id.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { PYTHON, pythonCelery, startWorker, stopAll } from '../support/celery.js';
import { portOpen } from '../support/rabbitmq-node.js';
import type { CeleryProcess } from '../support/celery.js';
import {
  httpPortOf,
  httpRequest,
  killCliChildren,
  parsePrometheus,
  runBeatCli,
  sampleValue,
  startPrivateRedis,
  uniqueName,
} from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

interface Attempt {
  readonly id: string;
  readonly attempt: number | null;
  readonly retry_of: string | null;
  /** When the worker started it, epoch seconds. */
  readonly at: number;
}

/** A slot of `beat history --json` (control/slot-view.ts). */
interface SlotJson {
  readonly taskId: string;
  readonly state: string;
  readonly slotTaskId: string;
  readonly attemptCount: number;
  readonly maxAttempts: number | null;
  readonly attempts: readonly {
    readonly taskId: string;
    readonly attempt: number;
    readonly state: string;
    readonly exception: string | null;
  }[];
}

suite(`retries with a real Celery worker${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;
  let results: Redis;
  const workers: CeleryProcess[] = [];

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    redis = await startPrivateRedis();
    results = redis.client(1);
    const env = { broker: redis.url(0), backend: redis.url(1) };
    workers.push(await startWorker({ name: 'retry-main', queues: ['celery'], env }));
  });

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    await stopAll(workers);
    results?.disconnect();
    await redis?.stop();
    dir.remove();
  });

  it('runs a task that fails twice three times for its slot, with the attempts ids, headers and backoff, and SUCCESS in beat history; /metrics counts attempts and exhaustions', async () => {
    const name = uniqueName('retry');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(0) },
      resultBackend: redis.url(1),
      lock: FAST_LOCK,
      beatSchedule: {
        // One slot is what is looked at; the period is long enough that no second slot comes first.
        flaky3: { task: 'tsbeat_test.fail_twice', schedule: 3, retry: { attempts: 3, backoff: { initial: '1s', factor: 2, max: '1m' } } },
        // Fails every attempt: each slot's second and last attempt is counted as exhausted.
        doomed: { task: 'tsbeat_test.fail', schedule: 3, retry: { attempts: 2, backoff: { initial: '1s' }, on: ['failure'] } },
      },
    });
    const beat = fleet.spawn({ config: file, label: 'leader', args: ['--http', '127.0.0.1:0'] });
    const port = await httpPortOf(beat);
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);

    const attemptsOf = async (): Promise<Attempt[]> =>
      (await results.lrange('tsbeat-test:attempts', 0, -1)).map((t) => JSON.parse(t) as Attempt);
    let seen: Attempt[] = [];
    // The first slot's run and its two retries, as the worker ran them.
    const chain = await waitUntil(
      'three attempts of the first slot',
      async () => {
        const all = await attemptsOf();
        seen = all;
        const first = all.find((a) => a.attempt === null);
        if (first === undefined) return undefined;
        const chain = [first, ...all.filter((a) => a.retry_of === first.id)];
        return chain.length >= 3 ? chain : undefined;
      },
      40_000,
      () => `worker saw ${JSON.stringify(seen)}; beat ${JSON.stringify(beat.logs.slice(-20))}`,
    );
    const slotId = chain[0]!.id;
    expect(chain.map((a) => [a.id, a.attempt, a.retry_of])).toEqual([
      [slotId, null, null],
      [attemptTaskId(slotId, 2), 2, slotId],
      [attemptTaskId(slotId, 3), 3, slotId],
    ]);
    // The waits: 1 s after attempt 1 ended, 2 s after attempt 2 (each attempt runs briefly); a
    // bound above, loose for a loaded machine, shows the attempt was not left for long.
    const gap1 = chain[1]!.at - chain[0]!.at;
    const gap2 = chain[2]!.at - chain[1]!.at;
    expect(gap1).toBeGreaterThanOrEqual(0.95);
    expect(gap2).toBeGreaterThanOrEqual(1.95);
    expect(gap1).toBeLessThan(15);
    expect(gap2).toBeLessThan(15);

    const third = attemptTaskId(slotId, 3);
    const slots = await waitUntil(
      'the third attempt SUCCESS in beat history',
      async () => {
        const run = await runBeatCli(['history', 'flaky3', '--config', file, '--json']);
        expect(run.stderr).toBe('');
        const list = JSON.parse(run.stdout) as SlotJson[];
        return list.find((r) => r.slotTaskId === slotId)?.state === 'SUCCESS' ? list : undefined;
      },
      20_000,
    );
    // One slot for the three runs: the last attempt's task and state, each attempt under it.
    const slot = slots.filter((s) => s.slotTaskId === slotId || s.attempts.some((a) => a.taskId === slotId));
    expect(slot).toHaveLength(1);
    expect(slot[0]).toMatchObject({ taskId: third, state: 'SUCCESS', attemptCount: 3, maxAttempts: 3 });
    expect(slot[0]!.attempts.map((a) => [a.taskId, a.attempt, a.state])).toEqual([
      [slotId, 1, 'FAILURE'],
      [attemptTaskId(slotId, 2), 2, 'FAILURE'],
      [third, 3, 'SUCCESS'],
    ]);
    expect(slot[0]!.attempts[0]!.exception).toBe('ValueError: not yet');
    // The HTTP API gives the same slot (the leader knows the policy too).
    const api = await httpRequest(port, '/api/entries/flaky3/history');
    expect(api.status).toBe(200);
    expect((JSON.parse(api.body) as { runs: SlotJson[] }).runs.find((s) => s.slotTaskId === slotId)).toEqual(slot[0]);
    // The table: the slot's row says 3/3, its attempts listed under it.
    const table = (await runBeatCli(['history', 'flaky3', '--wide', '--config', file])).stdout;
    expect(table.split('\n')[0]).toMatch(/\bATTEMPTS\b/);
    expect(table).toMatch(new RegExp(`SUCCESS\\s+3/3\\s.*${third}`));
    for (const [n, id] of [
      [1, slotId],
      [2, attemptTaskId(slotId, 2)],
      [3, third],
    ] as const)
      expect(table).toMatch(new RegExp(`\\n\\S+\\s+#${n}\\s+(FAILURE|SUCCESS)\\s.*${id}`));
    // No fourth attempt: the third succeeded.
    expect((await attemptsOf()).filter((a) => a.retry_of === slotId)).toHaveLength(2);

    // The attempts (2 and on) published, and the slots that ran out of them, by entry.
    const metrics = await waitUntil(
      'an exhausted slot of doomed in /metrics',
      async () => {
        const m = parsePrometheus((await httpRequest(port, '/metrics')).body);
        return (sampleValue(m, 'tsbeat_retries_exhausted_total', { entry: 'doomed', end: 'failure' }) ?? 0) >= 1 ? m : undefined;
      },
      30_000,
    );
    expect(sampleValue(metrics, 'tsbeat_retry_attempts_total', { entry: 'flaky3' })).toBeGreaterThanOrEqual(2);
    expect(sampleValue(metrics, 'tsbeat_retry_attempts_total', { entry: 'doomed' })).toBeGreaterThanOrEqual(1);
    // flaky3's third attempt succeeded: none of its slots ran out.
    expect(sampleValue(metrics, 'tsbeat_retries_exhausted_total', { entry: 'flaky3', end: 'failure' })).toBeUndefined();
  }, 120_000);

  it("skips the entry's new slots while its failed run's attempts wait out their backoff (overlap skip: the pending retry is the run in progress)", async () => {
    await fleet.killAll();
    await results.del('tsbeat-test:attempts');
    const name = uniqueName('retry-skip');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(0) },
      resultBackend: redis.url(1),
      lock: FAST_LOCK,
      beatSchedule: {
        // Due every second; each slot's run fails twice, 3 s apart: the attempts span slots that must be skipped.
        held: {
          task: 'tsbeat_test.fail_twice',
          schedule: 1,
          overlap: 'skip',
          retry: { attempts: 3, backoff: { initial: '3s', factor: 1, max: '3s' } },
        },
      },
    });
    const beat = fleet.spawn({ config: file, label: 'skip' });
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
    let seen: Attempt[] = [];
    // The first slot's three attempts, and the slot run after them.
    const [chain, after] = await waitUntil(
      "the first slot's attempts and the next slot's run",
      async () => {
        const all = (await results.lrange('tsbeat-test:attempts', 0, -1)).map((t) => JSON.parse(t) as Attempt);
        seen = all;
        const first = all.find((a) => a.attempt === null);
        if (first === undefined) return undefined;
        const chain = [first, ...all.filter((a) => a.retry_of === first.id)];
        const next = all.find((a) => a.attempt === null && a.id !== first.id);
        return chain.length >= 3 && next !== undefined ? ([chain, next] as const) : undefined;
      },
      60_000,
      () => `worker saw ${JSON.stringify(seen)}; beat ${JSON.stringify(beat.logs.slice(-20))}`,
    );
    expect(chain.map((a) => a.attempt)).toEqual([null, 2, 3]);
    // No slot of the entry ran while its attempts were pending: the next slot's run starts after the third attempt.
    expect(after.at).toBeGreaterThan(chain[2]!.at);
    expect(seen.filter((a) => a.attempt === null && a.at < chain[2]!.at).map((a) => a.id)).toEqual([chain[0]!.id]);
  }, 90_000);
});

const SHARED_RABBIT = 'amqp://guest:guest@127.0.0.1:5672//';
const rabbitProblems = [
  ...(celery.ok ? [] : [celery.problem]),
  ...(spawnSync(PYTHON, ['-c', 'import amqp'], { timeout: 30_000 }).status === 0
    ? []
    : [`${PYTHON} cannot import amqp; install python3-amqp`]),
  ...((await portOpen(5672, 2000)) ? [] : ['nothing listens on 127.0.0.1:5672; start RabbitMQ (rabbitmq-server -detached)']),
];
const rabbitSuite = rabbitProblems.length === 0 || process.env['CI'] ? describe : describe.skip;

rabbitSuite(
  `retries over RabbitMQ with a real Celery worker${rabbitProblems.length === 0 ? '' : ` (skipped: ${rabbitProblems.join('; ')})`}`,
  () => {
    const fleet = new BeatFleet();
    const dir = new TempDir();
    const queue = `tsbeat-it-${process.pid}-retry`;
    let redis: PrivateRedis;
    let results: Redis;
    const workers: CeleryProcess[] = [];

    beforeAll(async () => {
      if (rabbitProblems.length > 0) throw new Error(rabbitProblems.join('; '));
      redis = await startPrivateRedis();
      results = redis.client(1);
      workers.push(await startWorker({ name: 'retry-amqp', queues: [queue], env: { broker: SHARED_RABBIT, backend: redis.url(1) } }));
    });

    afterAll(async () => {
      await fleet.killAll();
      killCliChildren();
      await stopAll(workers);
      results?.disconnect();
      await redis?.stop();
      dir.remove();
      // The queue and its exchange (Celery's, named as the queue) are this run's alone.
      const model = await connect(SHARED_RABBIT);
      const channel = await model.createChannel();
      await channel.deleteQueue(queue).catch(() => undefined);
      await channel.deleteExchange(queue).catch(() => undefined);
      await model.close().catch(() => undefined);
    });

    it('runs a task that fails twice three times for its slot, each attempt claimed, confirmed and committed, with its id and headers, and SUCCESS in beat history', async () => {
      const name = uniqueName('retry-amqp');
      const file = dir.write(`${name}.json`, {
        name,
        broker: { url: SHARED_RABBIT },
        state: { url: redis.url(0) },
        resultBackend: redis.url(1),
        taskDefaultQueue: queue,
        lock: FAST_LOCK,
        beatSchedule: {
          flaky: { task: 'tsbeat_test.fail_twice', schedule: 10, retry: { attempts: 3, backoff: { initial: '1s', factor: 2, max: '1m' } } },
        },
      });
      const check = await runBeatCli(['check', '--config', file]);
      expect(check.stderr).toBe('');
      expect(check.code).toBe(0);
      const beat = fleet.spawn({ config: file, label: 'amqp-leader' });
      await beat.waitForEvent(EVENTS.lockAcquired, 10_000);

      let seen: Attempt[] = [];
      const chain = await waitUntil(
        'three attempts of the first slot',
        async () => {
          const all = (await results.lrange('tsbeat-test:attempts', 0, -1)).map((t) => JSON.parse(t) as Attempt);
          seen = all;
          const first = all.find((a) => a.attempt === null);
          if (first === undefined) return undefined;
          const chain = [first, ...all.filter((a) => a.retry_of === first.id)];
          return chain.length >= 3 ? chain : undefined;
        },
        60_000,
        () => `worker saw ${JSON.stringify(seen)}; beat ${JSON.stringify(beat.logs.slice(-20))}`,
      );
      const slotId = chain[0]!.id;
      expect(chain.map((a) => [a.id, a.attempt, a.retry_of])).toEqual([
        [slotId, null, null],
        [attemptTaskId(slotId, 2), 2, slotId],
        [attemptTaskId(slotId, 3), 3, slotId],
      ]);
      expect(chain[1]!.at - chain[0]!.at).toBeGreaterThanOrEqual(0.95);
      expect(chain[2]!.at - chain[1]!.at).toBeGreaterThanOrEqual(1.95);

      const third = attemptTaskId(slotId, 3);
      const slot = await waitUntil(
        'the third attempt SUCCESS in beat history',
        async () => {
          const run = await runBeatCli(['history', 'flaky', '--config', file, '--json']);
          expect(run.stderr).toBe('');
          const list = JSON.parse(run.stdout) as SlotJson[];
          const found = list.find((r) => r.slotTaskId === slotId);
          return found?.taskId === third && found.state === 'SUCCESS' ? found : undefined;
        },
        20_000,
      );
      expect(slot.attempts.map((a) => [a.taskId, a.state])).toEqual([
        [slotId, 'FAILURE'],
        [attemptTaskId(slotId, 2), 'FAILURE'],
        [third, 'SUCCESS'],
      ]);
      // Each attempt of the slot published once (committed off the pending set), and none of it left pending: no fourth.
      const published = beat.logs.filter((l) => l.event === EVENTS.retry && l['retryOf'] === slotId && l.msg?.endsWith('published'));
      expect(published.map((l) => [l['id'], l['attempt']])).toEqual([
        [attemptTaskId(slotId, 2), 2],
        [third, 3],
      ]);
      const pending = await redis.client(0).zrange(schedulerKeys('tsbeat', name).retries, '0', '-1');
      expect(pending.filter((m) => m.includes(slotId))).toEqual([]);
      const attempts = (await results.lrange('tsbeat-test:attempts', 0, -1)).map((t) => JSON.parse(t) as Attempt);
      expect(attempts.filter((a) => a.retry_of === slotId)).toHaveLength(2);
    }, 120_000);
  },
);
