/**
 * What workers receive from the fenced publish: for every kind of message and route the script
 * carries (lists, priority steps, direct and topic bindings, fanout channels, protocol 1), the
 * envelopes that land in Redis, byte for byte as the fixture recorded them before the script's
 * arguments were packed by msgpackr (the hand-written MessagePack writer it replaced). Delivery tags
 * are random (kombu keys its unacked hash by them): numbered in order of appearance.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTransport } from '../../src/kombu/redis-transport.js';
import { RedisFencedDispatcher } from '../../src/publish/redis-fenced-dispatcher.js';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import { slotTaskId } from '../../src/celery/task-id.js';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedConfig } from '../../src/config/resolve.js';
import { createLogger } from '../../src/base/log.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { ENV as MESSAGE_ENV } from '../support/messages.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';

const T = 1_795_243_280_537;
const DEPLOYMENT = 'encodings-test';

let server: PrivateRedis;
let redis: Redis;
let subscriber: Redis;

beforeAll(async () => {
  server = new PrivateRedis(await freePort());
  await server.start();
  redis = new Redis(server.url(0));
  subscriber = new Redis(server.url(0));
}, 30_000);

afterAll(async () => {
  await subscriber.quit();
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

function runsOf(c: ResolvedConfig) {
  return c.entries.flatMap((entry) => {
    const template = compileMessageTemplate(entry, c, MESSAGE_ENV);
    return [T, T + 10_000].map((slotMs) => ({
      entry,
      slotMs,
      message: renderTaskMessage(template, { taskId: slotTaskId(DEPLOYMENT, entry.name, slotMs), slotMs, nowMs: T }),
    }));
  });
}

/** Every list's envelopes (oldest first) and every fanout channel's, as `key: envelope` lines, tags numbered. */
async function received(channels: readonly string[]): Promise<string> {
  const lines: string[] = [];
  const keys = (await redis.keys('*')).filter((k) => !k.startsWith('tsbeat') && !k.startsWith('_kombu')).sort();
  for (const key of keys) for (const envelope of (await redis.lrange(key, 0, -1)).reverse()) lines.push(`${key}: ${envelope}`);
  for (const line of channels) lines.push(line);
  let n = 0;
  return `${lines
    .join('\n')
    .replace(/("delivery_tag": ?")[0-9a-f-]{36}"/g, (_tag, prefix: string) => `${prefix}${String((n += 1)).padStart(36, '0')}"`)}\n`;
}

describe('the envelopes workers receive from the fenced publish', () => {
  it('are, for every kind of message and route, the bytes recorded in the fixture', async () => {
    const config = parseConfig({ name: DEPLOYMENT, broker: { url: server.url(0) }, beatSchedule: schedule }, 'publish-encodings.test');
    const protocol1 = parseConfig(
      { name: DEPLOYMENT, broker: { url: server.url(0) }, taskProtocol: 1, beatSchedule: { v1: { task: 'proj.v1', schedule: 10 } } },
      'publish-encodings.test',
    );
    const logger = createLogger({ level: 'silent' });
    const transport = new RedisTransport({ url: server.url(0), transportOptions: {}, logger });
    await transport.client.connect();
    const channels: string[] = [];
    subscriber.on('message', (channel: string, message: string) => channels.push(`${channel}: ${message}`));
    await subscriber.subscribe('/0.fan-ex');
    try {
      await redis.flushdb();
      await redis.set(schedulerKeys('tsbeat', DEPLOYMENT).fence, 'token');
      await redis.sadd('_kombu.binding.direct-ex', 'rk\x06\x16\x06\x16direct-q');
      await redis.sadd('_kombu.binding.topic-ex', 'a.b\x06\x16a\\..*\x06\x16topic-q1', 'x\x06\x16.*\\.b\x06\x16topic-q2');
      const dispatcher = new RedisFencedDispatcher(transport, schedulerKeys('tsbeat', DEPLOYMENT), logger, DEFAULTS.maxClockSkewMs);
      expect(await dispatcher.dispatch(runsOf(config), 'token', T)).toMatchObject({ fenced: false });
      expect(await dispatcher.dispatch(runsOf(protocol1), 'token', T)).toMatchObject({ fenced: false });
      await redis.ping(); // the subscriber's messages were published before this answer
      await subscriber.ping();
    } finally {
      await transport.close();
    }
    const text = await received(channels);
    // What went out is what the test meant to send: every kind of message.
    for (const part of ['"proj.plain"', 'urgent\x06\x166: ', 'direct-q: ', 'topic-q1: ', 'topic-q2: ', '/0.fan-ex: ', 'wörld ☃ 😀'])
      expect(text).toContain(part);
    expect(text).toContain(Buffer.from('{"task":"proj.v1",').toString('base64'));
    await expect(text).toMatchFileSnapshot('../fixtures/publish-encodings/envelopes.txt');
  }, 60_000);
});
