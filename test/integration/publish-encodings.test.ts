/**
 * Every kind of message the fenced publish carries reaches its list (or its fanout channel) as
 * exactly the envelope text kombu's Redis transport would write (src/kombu/redis-envelope.ts
 * redisEnvelope): packed by msgpackr into the script's one argument (packArgs), unpacked by Redis's
 * cmsgpack, pushed by the script; non-ASCII text in names, args, kwargs and headers included.
 * Manual runs, backfills and revokes are sent by ioredis's defineCommand as plain arguments.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTransport } from '../../src/kombu/redis-transport.js';
import { redisEnvelope } from '../../src/kombu/redis-envelope.js';
import { RedisFencedDispatcher } from '../../src/publish/redis-fenced-dispatcher.js';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import type { TaskMessage } from '../../src/celery/message.js';
import { slotTaskId } from '../../src/celery/task-id.js';
import { parseConfig } from '../../src/config/load.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { createLogger } from '../../src/base/log.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { ENV as MESSAGE_ENV } from '../support/messages.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';

const T = 1_795_243_280_537;
const DEPLOYMENT = 'encodings-test';

let server: PrivateRedis;
let redis: Redis;

beforeAll(async () => {
  server = new PrivateRedis(await freePort());
  await server.start();
  redis = new Redis(server.url(0));
}, 30_000);

afterAll(async () => {
  await redis.quit();
  await server.stop();
});

/** The config's entries: one of each kind of message and route the fenced script carries. */
const schedule = {
  plain: { task: 'proj.plain', schedule: 10, args: ['wörld ☃ 😀', 2], kwargs: { ключ: 'значение' }, options: { expires: 30 } },
  isoExpires: { task: 'proj.iso', schedule: 10, options: { expires: '2026-11-21T06:00:00+00:00', countdown: 5 } },
  priority: { task: 'proj.priority', schedule: 10, options: { queue: 'urgent', priority: 7, headers: { 'x-ü': 'ß' } } },
  direct: { task: 'proj.direct', schedule: 10, options: { exchange: 'direct-ex', exchangeType: 'direct', routingKey: 'rk' } },
  topic: { task: 'proj.topic', schedule: 10, options: { exchange: 'topic-ex', exchangeType: 'topic', routingKey: 'a.b' } },
  fanout: { task: 'proj.fanout', schedule: 10, options: { exchange: 'fan-ex', exchangeType: 'fanout' } },
  unrouted: { task: 'proj.unrouted', schedule: 10, options: { exchange: 'direct-ex', exchangeType: 'direct', routingKey: 'nobody' } },
};

function runsOf(config: ReturnType<typeof parseConfig>) {
  return config.entries.flatMap((entry) => {
    const template = compileMessageTemplate(entry, config, MESSAGE_ENV);
    return [T, T + 10_000].map((slotMs) => ({
      entry,
      slotMs,
      message: renderTaskMessage(template, { taskId: slotTaskId(DEPLOYMENT, entry.name, slotMs), slotMs, nowMs: T }),
    }));
  });
}

/** Each envelope as it arrived, against the text made from its run's message with the delivery it states. */
function expectExactEnvelopes(arrived: readonly string[], messages: ReadonlyMap<string, TaskMessage>): void {
  for (const text of arrived) {
    const envelope = JSON.parse(text) as {
      properties: { correlation_id: string; delivery_tag: string; delivery_info: { exchange: string; routing_key: string } };
    };
    const { correlation_id: id, delivery_tag: tag, delivery_info: info } = envelope.properties;
    const message = messages.get(id);
    expect(message, `a message with id ${id}`).toBeDefined();
    expect(text).toBe(redisEnvelope(message as TaskMessage, info.exchange, info.routing_key, tag));
  }
}

describe('the fenced publish of every kind of message', () => {
  it('pushes exactly the envelope text of each, packed by msgpackr and unpacked by cmsgpack, non-ASCII text included', async () => {
    const config = parseConfig({ name: DEPLOYMENT, broker: { url: server.url(0) }, beatSchedule: schedule }, 'publish-encodings.test');
    const protocol1 = parseConfig(
      { name: DEPLOYMENT, broker: { url: server.url(0) }, taskProtocol: 1, beatSchedule: { v1: { task: 'proj.v1', schedule: 10 } } },
      'publish-encodings.test',
    );
    const logger = createLogger({ level: 'silent' });
    const transport = new RedisTransport({ url: server.url(0), transportOptions: {}, logger });
    const subscriber = new Redis(server.url(0));
    try {
      await transport.client.connect();
      const dispatcher = new RedisFencedDispatcher(transport, schedulerKeys('tsbeat', DEPLOYMENT), logger, DEFAULTS.maxClockSkewMs);
      await redis.set(schedulerKeys('tsbeat', DEPLOYMENT).fence, 'token');
      await redis.sadd('_kombu.binding.direct-ex', 'rk\x06\x16\x06\x16direct-q');
      await redis.sadd('_kombu.binding.topic-ex', 'a.b\x06\x16a\\..*\x06\x16topic-q1', 'x\x06\x16.*\\.b\x06\x16topic-q2');
      const fanned: string[] = [];
      subscriber.on('pmessage', (_pattern: string, _channel: string, text: string) => fanned.push(text));
      await subscriber.psubscribe('*fan-ex*');
      const runs = runsOf(config);
      const v1 = runsOf(protocol1);
      expect(await dispatcher.dispatch(runs, 'token', T)).toMatchObject({ fenced: false });
      expect(await dispatcher.dispatch(v1, 'token', T)).toMatchObject({ fenced: false });
      const messages = new Map([...runs, ...v1].map((run) => [run.message.id, run.message]));
      const lists = ['celery', 'urgent\x06\x166', 'direct-q', 'topic-q1', 'topic-q2'];
      const arrived = await Promise.all(lists.map((key) => redis.lrange(key, 0, -1)));
      // Two slots of each entry: plain, isoExpires and v1 on celery; each other route its own list.
      expect(arrived.map((items) => items.length)).toEqual([6, 2, 2, 2, 2]);
      for (const items of arrived) expectExactEnvelopes(items, messages);
      await expect.poll(() => fanned.length).toBe(2);
      expectExactEnvelopes(fanned, messages);
      expect(arrived.flat().join('')).toContain('wörld ☃ 😀');
      expect(arrived.flat().join('')).toContain(Buffer.from('{"task":"proj.v1",').toString('base64'));
    } finally {
      subscriber.disconnect();
      await transport.close();
    }
  }, 60_000);
});
