/**
 * The task-event feeds also hear the workers' liveness events (issue 70's lost runs), from a real
 * Celery worker (Debian's 5.2.6, heartbeats on, without `-E`: Celery sends them all the same): on a
 * private Redis (kombu's `worker.*` fanout channel) and on the shared RabbitMQ (`worker.#` on the
 * celeryev topic exchange): worker-online or worker-heartbeat with its hostname and `freq`, then
 * worker-offline when it stops; and the feed says when it (re)subscribed.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/base/log.js';
import { AmqpTaskEvents } from '../../src/amqp/task-events.js';
import { RedisTaskEvents } from '../../src/kombu/task-events.js';
import type { TaskEventFeed, WorkerEvent } from '../../src/ports/outcomes.js';
import { pythonCelery, startWorker } from '../support/celery.js';
import { startPrivateRedis, uniqueName } from '../support/ops.js';
import { portOpen } from '../support/rabbitmq-node.js';
import type { PrivateRedis } from '../support/redis-server.js';

const celery = pythonCelery();
const rabbitUp = await portOpen(5672, 2000);
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;
const SHARED_RABBIT = 'amqp://guest:guest@127.0.0.1:5672//';

suite(`the workers' liveness events${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  let redis: PrivateRedis;

  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  async function hears(feed: TaskEventFeed, broker: string): Promise<void> {
    const heard: WorkerEvent[] = [];
    let listening = 0;
    feed.start(() => undefined, { events: (events) => void heard.push(...events), listening: () => void (listening += 1) });
    try {
      await vi.waitFor(() => expect(listening).toBeGreaterThan(0), { timeout: 15_000 });
      const name = uniqueName('alive');
      const worker = await startWorker({ name, queues: [uniqueName('q')], env: { broker }, heartbeat: true });
      const mine = (): WorkerEvent[] => heard.filter((e) => e.hostname.startsWith(`${name}@`));
      try {
        await vi.waitFor(() => expect(mine().filter((e) => e.type === 'worker-heartbeat').length).toBeGreaterThan(0), { timeout: 15_000 });
      } finally {
        await worker.stop();
      }
      await vi.waitFor(() => expect(mine().at(-1)?.type).toBe('worker-offline'), { timeout: 15_000 });
      expect(mine()[0]).toMatchObject({ freqMs: 2000, active: 0, pid: worker.pid });
    } finally {
      await feed.stop();
    }
  }

  it('on Redis: worker-heartbeat with its hostname and freq, then worker-offline', async () => {
    await hears(new RedisTaskEvents({ url: redis.url(0), transportOptions: {}, logger: silentLogger }), redis.url(0));
  }, 60_000);

  (rabbitUp ? it : it.skip)(
    'on RabbitMQ: the same, bound with worker.#',
    async () => {
      await hears(new AmqpTaskEvents({ url: SHARED_RABBIT, logger: silentLogger }), SHARED_RABBIT);
    },
    60_000,
  );
});
