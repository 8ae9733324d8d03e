/**
 * Runs nobody consumes, on the brokers other than Redis (alerts.test.ts holds the Redis case):
 * - RabbitMQ (the shared node at 127.0.0.1:5672): a real Celery worker consumes this run's default
 *   queue but not its `reports` queue. The leader's look (an `active_queues` broadcast and a passive
 *   declare of each queue, whose consumer count RabbitMQ keeps) flags `reports` within
 *   consumers.unconsumedAfter, in the log and `beat status --json`; `beat check --consumers` names
 *   it (exit 1); once a worker on `reports` starts, the flag clears and `beat check --broker` says
 *   every queue has a consumer (exit 0).
 * - Amazon SQS (the local server of test/support/sqs-server.ts): no consumer count there, so runs
 *   that pile up in `reports` with none in flight are flagged ("N runs waiting … none taken"), the
 *   consumed queue is not, and a worker on `reports` clears the flag; `beat check --consumers`
 *   refuses SQS with the reason (exit 2).
 * State and lock live in a private Redis; every RabbitMQ queue and exchange of this run carries a
 * per-run prefix and is deleted afterwards.
 */
import { spawnSync } from 'node:child_process';
import { connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir } from '../support/beat-process.js';
import { PYTHON, pythonCelery, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { runBeatCli, startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { freePort } from '../support/redis-server.js';
import { portOpen } from '../support/rabbitmq-node.js';
import { LocalSqs } from '../support/sqs-server.js';

const SHARED = 'amqp://guest:guest@127.0.0.1:5672//';
const P = `tsbeat-unconsumed-${process.pid}-`;
const celery = pythonCelery();
const pyamqp = spawnSync(PYTHON, ['-c', 'import amqp'], { timeout: 30_000 }).status === 0;
const boto = spawnSync(PYTHON, ['-c', 'import boto3, pycurl'], { timeout: 30_000 }).status === 0;
const rabbitUp = await portOpen(5672, 2000);
const problems = [
  ...(celery.ok ? [] : [celery.problem]),
  ...(pyamqp ? [] : [`${PYTHON} cannot import amqp; install python3-amqp`]),
  ...(boto ? [] : [`${PYTHON} cannot import boto3 and pycurl; install python3-boto3 python3-pycurl`]),
  ...(rabbitUp ? [] : ['nothing listens on 127.0.0.1:5672; start RabbitMQ (rabbitmq-server -detached)']),
];
// In CI the suite must run: a missing piece fails it (in beforeAll) instead of skipping it.
const suite = problems.length === 0 || process.env['CI'] ? describe : describe.skip;

/** The consumer check's settings of both cases: a look a second, flagged after 3 s of none. */
const CONSUMERS = { every: '1s', unconsumedAfter: '3s', replyWindow: '500ms' };

const unconsumedOf = (text: string, name: string): unknown =>
  (JSON.parse(text) as { entries: { name: string; unconsumed: unknown }[] }).entries.find((e) => e.name === name)?.unconsumed;

suite(`runs nobody consumes on RabbitMQ and SQS${problems.length === 0 ? '' : ` (skipped: ${problems.join('; ')})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;

  beforeAll(async () => {
    if (problems.length > 0) throw new Error(problems.join('; '));
    redis = await startPrivateRedis();
  });

  afterAll(async () => {
    await fleet.killAll();
    await redis?.stop();
    dir.remove();
  });

  it('RabbitMQ: a queue without a consumer is flagged from its consumer count within the threshold, named by beat check, and cleared when a worker consumes it', async () => {
    const defaultQueue = `${P}celery`;
    const reports = `${P}reports`;
    const file = dir.write('amqp.json', {
      name: `${P}amqp`,
      broker: { url: SHARED },
      state: { url: redis.url(0) },
      taskDefaultQueue: defaultQueue,
      maxInterval: '200ms',
      lock: FAST_LOCK,
      consumers: CONSUMERS,
      beatSchedule: {
        main: { task: 'tsbeat_test.ok', schedule: 1 },
        report: { task: 'tsbeat_test.ok', schedule: 1, options: { queue: reports } },
      },
    });
    const env = { broker: SHARED, conf: { task_default_queue: defaultQueue } };
    let mainWorker: CeleryProcess | undefined;
    let reportsWorker: CeleryProcess | undefined;
    try {
      mainWorker = await startWorker({ name: `${P}main`, queues: [defaultQueue], env });
      const beat = fleet.spawn({ config: file });
      await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
      const leadAt = Date.now();
      const flagged = await beat.waitForEvent(EVENTS.queueUnconsumed, 15_000);
      // unconsumedAfter (3 s) from the first look (1 s after leading), plus a look's interval and reply window.
      expect(Date.now() - leadAt).toBeLessThan(8000);
      expect(flagged).toMatchObject({ queue: reports, entries: 1 });
      expect(String(flagged['reason'])).toMatch(new RegExp(`^no worker consumes queue ${reports}`));
      expect(beat.logs.filter((l) => l['event'] === EVENTS.queueUnconsumed && l['queue'] !== reports)).toEqual([]);

      const json = await runBeatCli(['status', '--config', file, '--json']);
      expect(json.code, json.stderr).toBe(0);
      expect(unconsumedOf(json.stdout, 'report')).toMatchObject({ queue: reports });
      expect(unconsumedOf(json.stdout, 'main')).toBeNull();

      const before = await runBeatCli(['check', '--config', file, '--consumers']);
      expect(before.code, before.stdout + before.stderr).toBe(1);
      // Wrapped at the width, its follow-on lines indented: read as the one line it is.
      expect(before.stderr.replace(/\n {2}/g, ' ')).toContain(
        `no worker consumes queue ${reports} (1 entry publishes to it): start a worker with -Q ${reports}`,
      );
      expect(before.stdout).toMatch(new RegExp(`${defaultQueue}\\s+1\\s`));

      reportsWorker = await startWorker({ name: `${P}reports`, queues: [reports], env });
      const cleared = await beat.waitForEvent(EVENTS.queueConsumed, 15_000);
      expect(cleared['queue']).toBe(reports);
      const after = await runBeatCli(['status', '--config', file, '--json']);
      expect(unconsumedOf(after.stdout, 'report')).toBeNull();
      const ready = await runBeatCli(['check', '--config', file, '--broker', SHARED]);
      expect(ready.code, ready.stdout + ready.stderr).toBe(0);
      expect(ready.stdout).toMatch(/every queue has a consumer \(2 workers answered\)/);
    } finally {
      await stopAll([mainWorker, reportsWorker]);
      await fleet.killAll();
      const model = await connect(SHARED);
      const channel = await model.createChannel();
      for (const name of [defaultQueue, reports]) {
        await channel.deleteQueue(name);
        await channel.deleteExchange(name);
      }
      await model.close();
    }
  }, 120_000);

  it('SQS: runs that pile up in a queue with none in flight are flagged from its depth, the consumed queue is not, and a worker on it clears the flag', async () => {
    const sqs = new LocalSqs(await freePort(), ['celery', 'reports']);
    await sqs.start();
    const transportOptions = { region: 'us-east-1', is_secure: false, wait_time_seconds: 1, polling_interval: 0.1 };
    const file = dir.write('sqs.json', {
      name: `${P}sqs`,
      broker: { url: sqs.url, transportOptions: { region: 'us-east-1', is_secure: false, wait_time_seconds: 1 } },
      state: { url: redis.url(1) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      consumers: CONSUMERS,
      beatSchedule: {
        main: { task: 'tsbeat_test.ok', schedule: 1 },
        report: { task: 'tsbeat_test.ok', schedule: 1, options: { queue: 'reports' } },
      },
    });
    const env = { broker: sqs.url, transportOptions };
    let mainWorker: CeleryProcess | undefined;
    let reportsWorker: CeleryProcess | undefined;
    try {
      mainWorker = await startWorker({ name: `${P}sqs-main`, queues: ['celery'], env });
      const beat = fleet.spawn({ config: file });
      await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
      const flagged = await beat.waitForEvent(EVENTS.queueUnconsumed, 20_000);
      expect(flagged).toMatchObject({ queue: 'reports', entries: 1 });
      expect(String(flagged['reason'])).toMatch(/^\d+ runs? waiting in queue reports and none taken$/);
      expect(Number(flagged['depth'])).toBeGreaterThan(0);
      // `celery` has a worker taking its runs: never flagged.
      expect(beat.logs.filter((l) => l['event'] === EVENTS.queueUnconsumed && l['queue'] !== 'reports')).toEqual([]);
      const json = await runBeatCli(['status', '--config', file, '--json']);
      expect(json.code, json.stderr).toBe(0);
      expect(unconsumedOf(json.stdout, 'report')).toMatchObject({ queue: 'reports' });
      expect(unconsumedOf(json.stdout, 'main')).toBeNull();

      const check = await runBeatCli(['check', '--config', file, '--consumers']);
      expect(check.code).toBe(2);
      expect(check.stderr).toContain('SQS keeps no consumer count');

      reportsWorker = await startWorker({ name: `${P}sqs-reports`, queues: ['reports'], env });
      const cleared = await beat.waitForEvent(EVENTS.queueConsumed, 20_000);
      expect(cleared['queue']).toBe('reports');
      expect(beat.logs.filter((l) => l['event'] === EVENTS.queueUnconsumed && l['queue'] !== 'reports')).toEqual([]);
    } finally {
      await stopAll([mainWorker, reportsWorker]);
      await fleet.killAll();
      await sqs.stop();
    }
  }, 120_000);
});
