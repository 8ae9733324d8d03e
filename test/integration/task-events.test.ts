/**
 * Run outcomes from Celery's task events (`taskEvents`), with real Celery workers started with
 * `-E` (prefork: its event loop sends task-started while the task runs) and WITHOUT
 * `task_track_started`, so a result backend never says STARTED:
 * - Redis broker (a private redis-server: broker and state on DB 0, results on DB 1): with a
 *   result backend and events, and with events alone;
 * - RabbitMQ broker (the shared node on 127.0.0.1:5672, a queue named for this run, deleted after),
 *   state in the private Redis, events alone.
 * The oracle is the workers' own events, read here from the broker as tsbeat reads them (the
 * decoding runs on what the real worker sent) and the results they stored. Runs are published by
 * `beat trigger`, so each test knows its runs.
 */
import { connect } from 'amqplib';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { taskEventsOf } from '../../src/celery/task-events.js';
import type { TaskEvent } from '../../src/celery/task-events.js';
import { decodeEnvelopeBody, taskEventPattern } from '../../src/kombu/task-events.js';
import { decodeEventMessage } from '../../src/amqp/task-events.js';
import { decodeRun } from '../../src/redis/run-history-codec.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { pythonCelery, resultKey, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { killCliChildren, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { portOpen } from '../support/rabbitmq-node.js';

const celery = pythonCelery();
const rabbitUp = await portOpen(5672, 2000);
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;
const SHARED_RABBIT = 'amqp://guest:guest@127.0.0.1:5672//';

interface RunJson {
  taskId: string;
  state: string;
  publishedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  runtimeSeconds: number | null;
  exception: string | null;
}

suite(`run outcomes from Celery's task events${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;
  let state: Redis;
  let results: Redis;
  let listener: Redis;
  const workers: CeleryProcess[] = [];
  /** Every task event the Redis workers sent, decoded from the raw pub/sub messages. */
  const seen: TaskEvent[] = [];

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    redis = await startPrivateRedis();
    state = redis.client(0);
    results = redis.client(1);
    listener = redis.client(0);
    listener.on('pmessageBuffer', (_p: Buffer, _c: Buffer, message: Buffer) => seen.push(...taskEventsOf(decodeEnvelopeBody(message))));
    await listener.psubscribe(taskEventPattern({}, 0));
    // No task_track_started: only the events can say STARTED.
    const env = { broker: redis.url(0), backend: redis.url(1) };
    workers.push(await startWorker({ name: 'events-redis', queues: ['celery'], env, pool: 'prefork', events: true }));
  });

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    await stopAll(workers);
    listener?.disconnect();
    state?.disconnect();
    results?.disconnect();
    await redis?.stop();
    dir.remove();
  });

  const history = async (file: string, entry: string): Promise<RunJson[]> => {
    const run = await runBeatCli(['history', entry, '--config', file, '--json']);
    expect(run.stderr).toBe('');
    return JSON.parse(run.stdout) as RunJson[];
  };

  /** Connections to the broker's Redis with a pattern subscription (CLIENT LIST `psub=`). */
  const patternClients = async (): Promise<number> =>
    ((await state.client('LIST')) as string).split('\n').filter((line) => /\bpsub=[1-9]/.test(line)).length;

  const trigger = async (file: string, entry: string): Promise<void> => {
    const run = await runBeatCli(['trigger', entry, '--config', file]);
    expect(run.stderr).toBe('');
  };

  /** Triggers `slow` (sleeps 3 s) and `fail`, sees slow STARTED in its history while it runs, then both final. */
  async function followTwoRuns(
    name: string,
    file: string,
    beat: BeatProcess,
    events: () => readonly TaskEvent[],
    stored: (id: string) => Promise<string | undefined>,
  ) {
    await trigger(file, 'slow');
    // Read straight from the history list (a CLI run can take longer than the task on a loaded machine).
    const runsKey = schedulerKeys('tsbeat', name).runs('slow');
    const startedRecord = await waitUntil(
      'slow to be recorded as STARTED',
      async () => (await state.lrange(runsKey, 0, -1)).map((text) => decodeRun(text)).find((r) => r?.state === 'STARTED'),
      30_000,
      () => `${beat.tail()}\n${workers.map((w) => w.output().slice(-2000)).join('\n')}`,
    );
    const running = { taskId: startedRecord.taskId, startedAt: new Date(startedRecord.startedAtMs as number).toISOString() };
    // Still running: the worker has stored no result, and without task_track_started a result backend would never say STARTED.
    expect(await stored(running.taskId)).toBeUndefined();
    const started = events().find((e) => e.taskId === running.taskId && e.type === 'task-started') as TaskEvent;
    expect(Date.parse(running.startedAt)).toBe(started.atMs);
    await trigger(file, 'fail');
    const final = async (entry: string): Promise<RunJson> =>
      waitUntil(
        `a final run of ${entry}`,
        async () => (await history(file, entry)).find((r) => r.state === 'SUCCESS' || r.state === 'FAILURE'),
        20_000,
        () => beat.tail(),
      );
    const slow = await final('slow');
    const fail = await final('fail');
    const succeeded = events().find((e) => e.taskId === slow.taskId && e.type === 'task-succeeded') as TaskEvent;
    const failed = events().find((e) => e.taskId === fail.taskId && e.type === 'task-failed') as TaskEvent;
    // The worker's own runtime and times, from its events (a poll would give publication → date_done).
    expect(slow).toMatchObject({
      taskId: running.taskId,
      state: 'SUCCESS',
      exception: null,
      runtimeSeconds: (succeeded.runtimeMs as number) / 1000,
    });
    expect(slow.runtimeSeconds).toBeGreaterThanOrEqual(3);
    expect(Date.parse(slow.finishedAt as string)).toBe(succeeded.atMs);
    expect(Date.parse(slow.startedAt as string)).toBe(started.atMs);
    expect(fail).toMatchObject({ state: 'FAILURE', exception: 'ValueError: boom: line one' });
    expect(Date.parse(fail.finishedAt as string)).toBe(failed.atMs);
  }

  const entries = {
    slow: { task: 'tsbeat_test.sleepy', schedule: 86_400, args: [3] },
    fail: { task: 'tsbeat_test.fail', schedule: 86_400 },
  };

  it('on Redis with a result backend: STARTED while the task runs, then the final state with the worker runtime', async () => {
    const name = uniqueName('events-backend');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(0) },
      resultBackend: redis.url(1),
      taskEvents: true,
      lock: FAST_LOCK,
      beatSchedule: entries,
    });
    const before = await patternClients();
    const beat = fleet.spawn({ config: file, label: 'leader' });
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
    await beat.waitForEvent(EVENTS.taskEventsListening, 10_000);
    // Only the leader listens: a standby opens no subscription.
    const standby = fleet.spawn({ config: file, label: 'standby' });
    await standby.waitForEvent(EVENTS.standby, 10_000);
    expect(await patternClients()).toBe(before + 1);
    await followTwoRuns(
      name,
      file,
      beat,
      () => seen,
      async (id) => (await results.get(resultKey(id))) ?? undefined,
    );
    // The leader's subscription goes with it; the standby, now leading, subscribes; and leaves on shutdown.
    beat.signal('SIGTERM');
    await beat.waitForExit(10_000);
    await standby.waitForEvent(EVENTS.taskEventsListening, 15_000);
    expect(await patternClients()).toBe(before + 1);
    standby.signal('SIGTERM');
    await standby.waitForExit(10_000);
    await waitUntil('the last leader to leave the channel', async () => ((await patternClients()) === before ? true : undefined), 5_000);
  });

  it('on Redis with task events alone (no result backend): the events are the outcomes', async () => {
    const name = uniqueName('events-alone');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(0) },
      taskEvents: true,
      lock: FAST_LOCK,
      beatSchedule: entries,
    });
    const beat = fleet.spawn({ config: file, label: 'leader' });
    await beat.waitForEvent(EVENTS.taskEventsListening, 10_000);
    await followTwoRuns(
      name,
      file,
      beat,
      () => seen,
      async (id) => (await results.get(resultKey(id))) ?? undefined,
    );
    const status = await runBeatCli(['status', '--wide', '--config', file]);
    expect(status.stdout).toMatch(
      /^fail\s.*FAILURE \S+: ValueError: boom: line one {2,}FAILURE \S+: ValueError: boom: line one at \S+ +- +\S+$/m,
    );
    beat.signal('SIGTERM');
    await beat.waitForExit(10_000);
  });

  (rabbitUp ? it : it.skip)('on RabbitMQ with task events alone: the same, from the celeryev topic exchange', async () => {
    const queue = `tsbeat-it-events-${process.pid}`;
    const name = uniqueName('events-amqp');
    const amqpEvents: TaskEvent[] = [];
    // The test's own consumer, bound as tsbeat binds (and as Celery's EventReceiver does).
    const model = await connect(SHARED_RABBIT);
    const channel = await model.createChannel();
    await channel.assertExchange('celeryev', 'topic', { durable: true, autoDelete: false });
    const { queue: own } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(own, 'celeryev', 'task.#');
    await channel.consume(
      own,
      (m) => m && amqpEvents.push(...taskEventsOf(decodeEventMessage(m.properties.contentType as string, m.content))),
      {
        noAck: true,
      },
    );
    const worker = await startWorker({
      name: 'events-amqp',
      queues: [queue],
      env: { broker: SHARED_RABBIT, backend: redis.url(1) },
      pool: 'prefork',
      events: true,
    });
    workers.push(worker);
    try {
      const file = dir.write(`${name}.json`, {
        name,
        broker: { url: SHARED_RABBIT },
        state: { url: redis.url(0) },
        taskDefaultQueue: queue,
        taskEvents: true,
        lock: FAST_LOCK,
        beatSchedule: entries,
      });
      const beat = fleet.spawn({ config: file, label: 'leader' });
      await beat.waitForEvent(EVENTS.taskEventsListening, 15_000);
      await followTwoRuns(
        name,
        file,
        beat,
        () => amqpEvents,
        async (id) => (await results.get(resultKey(id))) ?? undefined,
      );
      beat.signal('SIGTERM');
      await beat.waitForExit(10_000);
    } finally {
      await worker.stop();
      await channel.deleteQueue(queue).catch(() => undefined);
      await channel.deleteExchange(queue).catch(() => undefined);
      await model.close().catch(() => undefined);
    }
  });
});
