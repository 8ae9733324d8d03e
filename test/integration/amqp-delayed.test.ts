/**
 * Native delayed delivery with a real Celery 5.5 worker (the newer generation, unpacked at
 * /var/tmp/celery-next, or whatever PYTHONPATH names in CI's newer leg) consuming a quorum queue
 * behind a topic exchange on the RabbitMQ at 127.0.0.1:5672. The worker's DelayedDelivery bootstep
 * declares the celery_delayed_* levels and binds its queue; tsbeat publishes as `beat run` does
 * (createPublishing's AMQP dispatcher under a fence token, test/support/leading-publisher.ts).
 *
 * The hazard: a quorum queue's consumers have a static prefetch, so a countdown message published
 * straight to the queue takes the worker's only prefetch place until its ETA, and every run behind
 * it waits as long.
 *
 * Redis DB 6 (result backend, beat state) is this file's only DB. The queue and its exchange are
 * named with a per-run prefix and deleted afterwards; the celery_delayed_* levels are left, as a
 * worker leaves them (every Celery 5.5 worker with a quorum queue declares the same ones).
 */
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { connect } from 'amqplib';
import type { Channel, ChannelModel } from 'amqplib';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileMessageTemplate, makeOrigin, renderTaskMessage } from '../../src/celery/message.js';
import { slotTaskId } from '../../src/celery/task-id.js';
import { parseConfig } from '../../src/config/load.js';
import type { OptionsInput } from '../../src/config/options-schema.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { createLogger } from '../../src/base/log.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { readEntryState } from '../../src/redis/entry-state-codec.js';
import type { DueRun } from '../../src/ports/dispatcher.js';
import { sleep } from '../support/beat-process.js';
import { PYTHON, startWorker, stopAll, waitForResult } from '../support/celery.js';
import type { CeleryProcess, TaskResult } from '../support/celery.js';
import { leadingPublisher } from '../support/leading-publisher.js';
import type { LeadingPublisher } from '../support/leading-publisher.js';
import { config, entry } from '../support/messages.js';
import { portOpen } from '../support/rabbitmq-node.js';

const BROKER = 'amqp://guest:guest@127.0.0.1:5672//';
const REDIS = 'redis://127.0.0.1:6379/6';
const NEXT = '/var/tmp/celery-next/usr/lib/python3/dist-packages';
const P = `tsbeat-delayed-${process.pid}-`;
const QUEUE = `${P}q`;

// The worker must be Celery 5.5 or later: point PYTHONPATH at the newer generation unless it already names one.
if (process.env['PYTHONPATH'] === undefined && existsSync(NEXT)) process.env['PYTHONPATH'] = NEXT;
const probe = spawnSync(PYTHON, ['-c', 'import celery, amqp, redis; print(celery.__version__)'], { encoding: 'utf8', timeout: 30_000 });
const version = probe.status === 0 ? probe.stdout.trim() : '';
const [major = 0, minor = 0] = version.split('.').map(Number);
const rabbitUp = await portOpen(5672, 2000);
const problems = [
  ...(major > 5 || (major === 5 && minor >= 5)
    ? []
    : [`needs Celery 5.5 or later (found "${version || probe.stderr.trim()}"); set PYTHONPATH to it`]),
  ...(rabbitUp ? [] : ['nothing listens on 127.0.0.1:5672; start RabbitMQ']),
];
const suite = problems.length === 0 || process.env['CI'] ? describe : describe.skip;

/** The workers' Celery settings, and tsbeat's that must match them. */
const CELERY_CONF = {
  task_default_queue: QUEUE,
  task_default_queue_type: 'quorum',
  task_default_exchange_type: 'topic',
  worker_prefetch_multiplier: 1,
};
const deployment = (name = 'deployment') =>
  parseConfig(
    {
      name: `${P}${name}`,
      broker: { url: BROKER },
      state: { url: REDIS, prefix: `${P}state` },
      taskDefaultQueue: QUEUE,
      taskDefaultQueueType: 'quorum',
      taskDefaultExchangeType: 'topic',
    },
    'amqp-delayed.test',
  );
const RESOLVED = parseConfig({ beatSchedule: { shell: { task: 'tsbeat_test.record', schedule: 60 } } }, 'amqp-delayed.test')
  .entries[0] as ResolvedEntry;

suite(
  `native delayed delivery, run by a real Celery ${version || '5.5'} worker on a quorum queue${problems.length === 0 ? '' : ` (skipped: ${problems.join('; ')})`}`,
  () => {
    const env = { origin: makeOrigin(process.pid, hostname()), replyTo: randomUUID() };
    const logger = createLogger({ level: 'silent' });
    const workers: CeleryProcess[] = [];
    let redis: Redis;
    let admin: ChannelModel;
    let channel: Channel;
    let publisher: LeadingPublisher;
    const publishers: LeadingPublisher[] = [];
    const worker = async (): Promise<CeleryProcess> => {
      const w = await startWorker({
        name: `${P}worker${workers.length}`,
        queues: [QUEUE],
        env: { broker: BROKER, backend: REDIS, conf: CELERY_CONF },
      });
      workers.push(w);
      return w;
    };

    beforeAll(async () => {
      if (problems.length > 0) throw new Error(problems.join('; '));
      redis = new Redis(REDIS);
      await redis.flushdb();
      admin = await connect(BROKER);
      admin.on('error', () => undefined);
      channel = await admin.createChannel();
      // Started first: its bootstep declares the levels and binds its queue, as in production.
      await worker();
      publisher = await leadingPublisher(deployment(), logger);
      publishers.push(publisher);
    });

    afterAll(async () => {
      await stopAll(workers);
      await Promise.allSettled(publishers.map((p) => p.close()));
      if (channel !== undefined) {
        await channel.deleteQueue(QUEUE).catch(() => undefined);
        await channel.deleteExchange(QUEUE).catch(() => undefined);
      }
      await admin?.close().catch(() => undefined);
      await redis?.flushdb();
      redis?.disconnect();
    });

    let counter = 0;
    function render(options: OptionsInput, nowMs = Date.now()): DueRun {
      const name = `delayed-${(counter += 1)}`;
      const resolved: ResolvedEntry = { ...RESOLVED, ...entry({ name, task: 'tsbeat_test.record', args: [name], options }) };
      const template = compileMessageTemplate(resolved, { ...config(), taskDefaultQueue: QUEUE }, env);
      return {
        entry: resolved,
        slotMs: nowMs,
        message: renderTaskMessage(template, { taskId: slotTaskId('amqp-delayed', name, nowMs), slotMs: nowMs, nowMs }),
      };
    }
    const doneAt = (r: TaskResult): number =>
      Date.parse(`${String((r as { date_done?: string }).date_done)}Z`.replace(/(\+00:00)?Z$/, 'Z'));

    it('a countdown run waits on the broker, not in the worker: a run published after it runs at once, and it runs once, at its ETA', async () => {
      const countdown = 8;
      const delayed = render({ countdown });
      const now = render({});
      const publishedAt = Date.now();
      // One dispatch, the one publish path: claimed, published with confirms, recorded.
      expect(await publisher.dispatch([delayed])).toEqual({ fenced: false, outcomes: ['published'] });
      expect(await publisher.dispatch([now])).toEqual({ fenced: false, outcomes: ['published'] });
      const keys = schedulerKeys(`${P}state`, `${P}deployment`);
      expect(readEntryState(await redis.hget(keys.state, delayed.entry.name))).toMatchObject({
        slotMs: delayed.slotMs,
        lastTaskId: delayed.message.id,
        runCount: 1,
      });

      // While it waits it sits in the level of its delay's highest bit (8 s: celery_delayed_3), not in the queue.
      await sleep(1000);
      expect((await channel.checkQueue('celery_delayed_3')).messageCount).toBeGreaterThanOrEqual(1);

      const quick = await waitForResult(redis, now.message.id, workers, 20_000);
      expect(quick.status).toBe('SUCCESS');
      const eta = publishedAt + countdown * 1000;
      // Without native delayed delivery the worker holds the countdown run in its one prefetch place until its ETA.
      expect(doneAt(quick)).toBeLessThan(eta - 3000);

      const late = await waitForResult(redis, delayed.message.id, workers, 30_000);
      expect(late.status).toBe('SUCCESS');
      expect(doneAt(late)).toBeGreaterThanOrEqual(eta - 500);
      const request = (late.result as { request: { eta: string; delivery_info: { routing_key: string } } }).request;
      expect(Date.parse(request.eta)).toBeGreaterThanOrEqual(eta - 1000);
      // It came through the levels: its routing key is the delay's bits and the queue's key.
      expect(request.delivery_info.routing_key).toBe(`${'0.'.repeat(24)}1.0.0.0.${QUEUE}`);
      await sleep(1000);
      const executed = await redis.lrange('tsbeat-test:executed', 0, -1);
      expect(executed.filter((id) => id === delayed.message.id)).toHaveLength(1);
    });

    it('refuses a countdown run while the delayed-delivery exchanges do not exist, naming the fix, and records nothing; it goes once a Celery 5.5 worker has declared them', async () => {
      await stopAll(workers.splice(0));
      // As on a broker where no Celery 5.5 worker with a quorum queue has started yet (the worker below declares it again).
      await channel.deleteExchange('celery_delayed_delivery');
      // A fresh connection: its transport has declared nothing yet, as after a restart.
      const fresh = await leadingPublisher(deployment('fresh'), logger);
      publishers.push(fresh);
      const due = render({ countdown: 2 });
      const refused = await fresh.dispatch([due]);
      expect(refused).toMatchObject({ fenced: false, outcomes: ['refused'] });
      const reason = 'refusals' in refused ? refused.refusals?.get(0) : undefined;
      expect(reason).toContain(
        `cannot declare queue "${QUEUE}" (durable, arguments {"x-queue-type":"quorum"}) with its topic exchange "${QUEUE}" and its bindings to celery_delayed_delivery`,
      );
      expect(reason).toContain("NOT_FOUND - no exchange 'celery_delayed_delivery'");
      expect(reason).toContain('start a Celery 5.5 (or later) worker whose queues include a quorum queue');
      const keys = schedulerKeys(`${P}state`, `${P}fresh`);
      expect(await redis.hget(keys.state, due.entry.name)).toBeNull();

      await worker();
      expect(await fresh.dispatch([due])).toEqual({ fenced: false, outcomes: ['published'] });
      expect((await waitForResult(redis, due.message.id, workers, 30_000)).status).toBe('SUCCESS');
    });
  },
);
