/**
 * Envelopes are written as bytes from their layouts into the script's one packed argument
 * (src/kombu/redis-envelope.ts packArgs); the same runs with every envelope built as text first (the path of a
 * message without a layout) put the same bytes on the wire, for every kind of message the fenced
 * publish carries. Recorded on the wire by a proxy
 * in front of a private Redis. Manual runs, backfills and revokes are sent by ioredis's
 * defineCommand, so they have one path only.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvelopePush } from '../../src/kombu/redis-envelope.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { ENV as MESSAGE_ENV } from '../support/messages.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const T = 1_795_243_280_537;
const DEPLOYMENT = 'encodings-test';

let server: PrivateRedis;
let proxy: TcpProxy;
let redis: Redis;

beforeAll(async () => {
  server = new PrivateRedis(await freePort());
  await server.start();
  proxy = new TcpProxy(await freePort(), server.port);
  await proxy.start();
  redis = new Redis(server.url(0));
}, 30_000);

afterAll(async () => {
  await redis.quit();
  await proxy.stop();
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

/** One side's publish path; with `asText`, every envelope is built as text before it is sent. */
async function publishPath(asText: boolean) {
  const { RedisTransport } = await import('../../src/kombu/redis-transport.js');
  const { RedisFencedDispatcher } = await import('../../src/publish/redis-fenced-dispatcher.js');
  const { compileMessageTemplate, renderTaskMessage } = await import('../../src/celery/message.js');
  const { slotTaskId } = await import('../../src/celery/task-id.js');
  const { parseConfig } = await import('../../src/config/load.js');
  const { schedulerKeys } = await import('../../src/redis/keys.js');
  const { createLogger } = await import('../../src/base/log.js');
  const { DEFAULTS } = await import('../../src/base/defaults.js');
  const config = parseConfig({ name: DEPLOYMENT, broker: { url: server.url(0) }, beatSchedule: schedule }, 'publish-encodings.test');
  const protocol1 = parseConfig(
    { name: DEPLOYMENT, broker: { url: server.url(0) }, taskProtocol: 1, beatSchedule: { v1: { task: 'proj.v1', schedule: 10 } } },
    'publish-encodings.test',
  );
  const logger = createLogger({ level: 'silent' });
  const transport = new RedisTransport({ url: `redis://127.0.0.1:${proxy.port}/0`, transportOptions: {}, logger });
  await transport.client.connect();
  // Counts the envelopes written from their layouts (never built as text), so that each side is what it says.
  const sent = { fromLayouts: 0 };
  const evalScript = transport.evalScript.bind(transport);
  transport.evalScript = (script, keys, args) => {
    if (asText) for (const arg of args) if (typeof arg !== 'string') void arg.payload;
    const reply = evalScript(script, keys, args);
    sent.fromLayouts += args.filter((a) => a instanceof EnvelopePush && !a.built).length;
    return reply;
  };
  const dispatcher = new RedisFencedDispatcher(transport, schedulerKeys('tsbeat', DEPLOYMENT), logger, DEFAULTS.maxClockSkewMs);
  const runsOf = (c: typeof config) =>
    c.entries.flatMap((entry) => {
      const template = compileMessageTemplate(entry, c, MESSAGE_ENV);
      return [T, T + 10_000].map((slotMs) => ({
        entry,
        slotMs,
        message: renderTaskMessage(template, { taskId: slotTaskId(DEPLOYMENT, entry.name, slotMs), slotMs, nowMs: T }),
      }));
    });
  return { sent, transport, dispatcher, runs: runsOf(config), v1: runsOf(protocol1) };
}

/** Delivery tags are random (kombu keys its unacked hash by them): numbered in order of appearance, same length. */
function withTagsNumbered(bytes: Buffer): string {
  let n = 0;
  return bytes
    .toString('latin1')
    .replace(/("delivery_tag": ?")[0-9a-f-]{36}"/g, (_tag, prefix: string) => `${prefix}${String((n += 1)).padStart(36, '0')}"`);
}

/** What one side writes: a dispatch of every kind, a protocol 1 batch; the store emptied before each. */
async function written(asText: boolean): Promise<{ fromLayouts: number; writes: string[] }> {
  const side = await publishPath(asText);
  const writes: string[] = [];
  const record = async (send: () => Promise<unknown>): Promise<void> => {
    await redis.flushdb();
    await redis.set(schedulerKeys('tsbeat', DEPLOYMENT).fence, 'token');
    await redis.sadd('_kombu.binding.direct-ex', 'rk\x06\x16\x06\x16direct-q');
    await redis.sadd('_kombu.binding.topic-ex', 'a.b\x06\x16a\\..*\x06\x16topic-q1', 'x\x06\x16.*\\.b\x06\x16topic-q2');
    const stop = proxy.record();
    await send();
    writes.push(withTagsNumbered(stop()));
  };
  try {
    await record(async () => expect(await side.dispatcher.dispatch(side.runs, 'token', T)).toMatchObject({ fenced: false }));
    await record(async () => expect(await side.dispatcher.dispatch(side.v1, 'token', T)).toMatchObject({ fenced: false }));
  } finally {
    await side.transport.close();
  }
  return { fromLayouts: side.sent.fromLayouts, writes };
}

describe('envelopes written from their layouts', () => {
  it('writes the same bytes for every kind of message', async () => {
    const fast = await written(false);
    const plain = await written(true);
    expect(fast.fromLayouts).toBeGreaterThan(10);
    expect(plain.fromLayouts).toBe(0);
    expect(plain.writes).toHaveLength(2);
    // What went out is what the test meant to send: script calls carrying every kind of message
    // (ioredis sends a script as EVAL on a connection's first call, by EVALSHA after).
    const [all, v1] = fast.writes as [string, string];
    expect(all).toMatch(/\r\n(eval|evalsha)\r\n/i);
    for (const text of ['"proj.plain"', '"proj.iso"', 'urgent\x06\x166', 'direct-q', 'topic-q1', '/0.fan-ex', 'unrouted'])
      expect(all).toContain(text);
    expect(Buffer.from(all, 'latin1').toString('utf8')).toContain('wörld ☃ 😀');
    // Protocol 1: the task's name inside the base64 body.
    expect(v1).toContain(Buffer.from('{"task":"proj.v1",').toString('base64'));
    // Byte for byte (delivery tags numbered): the bindings' reads, the declarations and the scripts.
    plain.writes.forEach((bytes, i) => expect(bytes).toBe(fast.writes[i]));
    // The messages reached their queues on both sides alike.
    expect(await redis.llen('topic-q1')).toBe(0); // emptied before the staged dispatch, which carries "plain" only
    expect(await redis.llen('celery')).toBe(2);
  }, 60_000);
});
