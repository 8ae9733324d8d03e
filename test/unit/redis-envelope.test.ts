import { describe, expect, it } from 'vitest';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import type { TaskMessage } from '../../src/celery/message.js';
import { redisEnvelope } from '../../src/kombu/redis-envelope.js';
import { planRedisPublish } from '../../src/kombu/redis-transport.js';
import type { RedisPlanContext } from '../../src/kombu/redis-transport.js';
import { kombuKeyOptions } from '../../src/kombu/keys.js';
import { bindingKey, fanoutChannel, parseBindingMember, priorityStep, queueListKey, resolveFanoutPrefix } from '../../src/kombu/keys.js';
import type { Binding, KombuKeyOptions } from '../../src/kombu/keys.js';
import type { OptionsInput } from '../../src/config/options-schema.js';
import { ENV, config, entry } from '../support/messages.js';

const KEYS: KombuKeyOptions = kombuKeyOptions({}, 0);
const NOW = Date.UTC(2026, 10, 21, 5, 32, 51, 392);

function message(options: OptionsInput = {}, name = 'e1'): TaskMessage {
  return renderTaskMessage(compileMessageTemplate(entry({ name, options }), config(), ENV), {
    taskId: `id-${name}`,
    slotMs: NOW,
    nowMs: NOW,
  });
}

function ctx(fields: Partial<RedisPlanContext> = {}): RedisPlanContext {
  let n = 0;
  return { keys: KEYS, bindings: new Map(), declared: new Set(), newDeliveryTag: () => `tag-${(n += 1)}`, ...fields };
}

const parse = (payload: string | Buffer) =>
  JSON.parse(payload.toString()) as { body: string; headers: Record<string, unknown>; properties: Record<string, unknown> } & Record<
    string,
    unknown
  >;

describe('the envelope (kombu Channel.prepare_message + _inplace_augment_message)', () => {
  it('has exactly the five top-level keys, hyphenated content keys and a base64 body', () => {
    const m = message();
    const env = parse(redisEnvelope(m, '', 'celery', 'tag-1'));
    expect(Object.keys(env)).toEqual(['body', 'content-encoding', 'content-type', 'headers', 'properties']);
    expect(env['content-type']).toBe('application/json');
    expect(env['content-encoding']).toBe('utf-8');
    expect(Buffer.from(env.body, 'base64').toString('utf8')).toBe(m.body);
    expect(env.headers).toEqual(JSON.parse(m.headersJson));
  });

  it('has delivery_tag and delivery_info.exchange/routing_key, without which a worker dies with KeyError', () => {
    const env = parse(redisEnvelope(message(), '', 'celery', 'tag-1'));
    expect(env.properties).toMatchObject({
      delivery_tag: 'tag-1',
      delivery_info: { exchange: '', routing_key: 'celery' },
      body_encoding: 'base64',
    });
  });

  it("has the properties of the observed 5.6.2 beat message, in kombu's order, priority included", () => {
    // celery-protocol.md §1.7: options {'expires': 30, 'priority': 5, 'headers': {'x-custom': 'v'}};
    // plus periodic_task_name, an option django-celery-beat passes, which send_task_message copies
    // into the properties after reply_to.
    const m = message({ expires: 30, priority: 5, headers: { 'x-custom': 'v' } });
    const env = parse(redisEnvelope(m, '', 'celery', 'tag-1'));
    expect(Object.keys(env.properties)).toEqual([
      'correlation_id',
      'reply_to',
      'periodic_task_name',
      'delivery_mode',
      'expiration',
      'delivery_info',
      'priority',
      'body_encoding',
      'delivery_tag',
    ]);
    expect(env.properties).toMatchObject({ delivery_mode: 2, expiration: '30000', priority: 5 });
    expect(env.headers['x-custom']).toBe('v');
  });

  it('builds the same envelope for a message made by hand, without a template layout', () => {
    const m = message({ expires: '2026-11-21T06:00:00+00:00', headers: { 'x-ü': 'ß' } });
    const byHand: TaskMessage = {
      protocol: m.protocol,
      id: m.id,
      task: m.task,
      entry: m.entry,
      destination: m.destination,
      headersJson: m.headersJson,
      properties: m.properties,
      body: m.body,
      bodyBase64: undefined,
      contentType: m.contentType,
      contentEncoding: m.contentEncoding,
      template: m.template,
    };
    expect(parse(redisEnvelope(byHand, '', 'celery', 'tag'))).toEqual(parse(redisEnvelope(m, '', 'celery', 'tag')));
  });

  it('always writes a priority, 0 when none was given', () => {
    expect(parse(redisEnvelope(message(), '', 'celery', 't')).properties['priority']).toBe(0);
  });
});

describe('list keys (kombu _q_for_pri)', () => {
  it.each([
    [0, 'celery'],
    [2, 'celery'],
    [3, 'celery\x06\x163'],
    [5, 'celery\x06\x163'],
    [6, 'celery\x06\x166'],
    [9, 'celery\x06\x169'],
    [200, 'celery\x06\x169'],
    [undefined, 'celery'],
  ] as const)('rounds priority %s down to a step: %j', (priority, key) => {
    expect(queueListKey(KEYS, 'celery', priority)).toBe(key);
  });

  it('uses the configured prioritySteps and sep, which workers must share', () => {
    const keys = kombuKeyOptions({ prioritySteps: [0, 5], sep: ':' }, 0);
    expect([queueListKey(keys, 'q', 4), queueListKey(keys, 'q', 7)]).toEqual(['q', 'q:5']);
  });

  it("maps a priority below the first step to the last step, as Python's steps[-1] does", () => {
    expect(priorityStep(0, [1, 5])).toBe(5);
  });

  it('prepends globalKeyprefix as-is to list, binding and fanout names', () => {
    const keys = kombuKeyOptions({ globalKeyprefix: 'pre:' }, 3);
    expect(queueListKey(keys, 'q', 9)).toBe('pre:q\x06\x169');
    expect(bindingKey(keys, 'q')).toBe('pre:_kombu.binding.q');
    expect(fanoutChannel(keys, 'bus', 'rk')).toBe('pre:/3.bus/rk');
  });

  it('formats the fanout prefix with the DB, and drops it or the routing key when told to', () => {
    expect(resolveFanoutPrefix(undefined, 4)).toBe('/4.');
    expect(resolveFanoutPrefix('custom{db}-', 4)).toBe('custom4-');
    expect(resolveFanoutPrefix(false, 4)).toBe('');
    expect(fanoutChannel({ ...KEYS, fanoutPatterns: false }, 'bus', 'rk')).toBe('/0.bus');
  });

  it('reads binding members back as routing key, pattern and queue', () => {
    expect(parseBindingMember(KEYS, 'celery\x06\x16\x06\x16celery')).toEqual({ routingKey: 'celery', pattern: '', queue: 'celery' });
    expect(parseBindingMember(KEYS, 'no-separators')).toBeUndefined();
  });
});

describe('planning', () => {
  it("declares each queue's binding once (maybe_declare), before any push, and not again once declared", () => {
    const plan = planRedisPublish([message({}, 'a'), message({}, 'b'), message({ queue: 'other' }, 'c')], ctx());
    expect(plan.declarations).toEqual([
      { queue: 'celery', key: '_kombu.binding.celery', member: 'celery\x06\x16\x06\x16celery' },
      { queue: 'other', key: '_kombu.binding.other', member: 'other\x06\x16\x06\x16other' },
    ]);
    expect(planRedisPublish([message()], ctx({ declared: new Set(['celery']) })).declarations).toEqual([]);
  });

  it('gives every envelope a fresh delivery tag (the unacked hash is keyed by it)', () => {
    const plan = planRedisPublish([message({}, 'a'), message({}, 'b')], ctx());
    const tags = plan.messages.flatMap((m) => m.pushes.map((p) => parse(p.payload).properties['delivery_tag']));
    expect(tags).toEqual(['tag-1', 'tag-2']);
  });

  it('pushes an anonymous-route message to the priority list of its queue', () => {
    const plan = planRedisPublish([message({ queue: 'q', priority: 7 })], ctx());
    expect(plan.messages[0]?.pushes.map((p) => p.key)).toEqual(['q\x06\x166']);
  });

  const bindings = (exchange: string, list: Binding[]) => new Map([[exchange, list]]);

  it('routes a named direct exchange to every queue bound with an equal routing key, each copy with its own tag', () => {
    const plan = planRedisPublish(
      [message({ exchange: 'ex', routingKey: 'rk' })],
      ctx({
        bindings: bindings('ex', [
          { routingKey: 'rk', pattern: '', queue: 'q1' },
          { routingKey: 'rk', pattern: '', queue: 'q2' },
          { routingKey: 'rk', pattern: '', queue: 'q1' },
          { routingKey: 'other', pattern: '', queue: 'q3' },
        ]),
      }),
    );
    const pushes = plan.messages[0]?.pushes ?? [];
    expect(pushes.map((p) => p.key)).toEqual(['q1', 'q2']);
    expect(pushes.map((p) => parse(p.payload).properties)).toEqual([
      expect.objectContaining({ delivery_info: { exchange: 'ex', routing_key: 'rk' }, delivery_tag: 'tag-1' }),
      expect.objectContaining({ delivery_info: { exchange: 'ex', routing_key: 'rk' }, delivery_tag: 'tag-2' }),
    ]);
    expect(plan.dropped).toEqual([]);
  });

  it("matches topic bindings with kombu's stored regex, anchored at the start like re.match", () => {
    const table = bindings('tx', [
      { routingKey: 'task.#', pattern: '^task\\..*?$', queue: 'all-tasks' },
      { routingKey: 'task.*', pattern: '^task\\..*?[^\\.]$', queue: 'one-word' },
      { routingKey: 'other.#', pattern: '^other\\..*?$', queue: 'others' },
    ]);
    const plan = planRedisPublish(
      [message({ exchange: 'tx', exchangeType: 'topic', routingKey: 'task.billing' })],
      ctx({ bindings: table }),
    );
    expect(plan.messages[0]?.pushes.map((p) => p.key)).toEqual(['all-tasks', 'one-word']);
  });

  it("delivers a topic message to a direct-style binding (empty pattern), as Python's re.match('') does", () => {
    const plan = planRedisPublish(
      [message({ exchange: 'tx', exchangeType: 'topic', routingKey: 'anything' })],
      ctx({ bindings: bindings('tx', [{ routingKey: 'x', pattern: '', queue: 'q' }]) }),
    );
    expect(plan.messages[0]?.pushes.map((p) => p.key)).toEqual(['q']);
  });

  it('reports a message that matches no binding as dropped, with the reason, instead of losing it silently', () => {
    const plan = planRedisPublish(
      [message({ exchange: 'ex', routingKey: 'nobody' }, 'lonely')],
      ctx({ bindings: bindings('ex', [{ routingKey: 'rk', pattern: '', queue: 'q' }]) }),
    );
    expect(plan.messages[0]?.pushes).toEqual([]);
    expect(plan.dropped).toEqual([
      {
        id: 'id-lonely',
        entry: 'lonely',
        task: 'proj.add',
        exchange: 'ex',
        routingKey: 'nobody',
        reason:
          'no queue is bound to direct exchange "ex" with routing key "nobody" (set _kombu.binding.ex is empty or has no match); start a worker whose queue is bound to it, or route the entry to a queue',
      },
    ]);
  });

  it('publishes a fanout message on the exchange channel instead of pushing it', () => {
    const plan = planRedisPublish([message({ exchange: 'bus', exchangeType: 'fanout', routingKey: 'rk' })], ctx());
    expect(plan.messages[0]?.pushes).toEqual([]);
    expect(plan.messages[0]?.publishes.map((p) => p.channel)).toEqual(['/0.bus/rk']);
  });

  it('keeps one entry per input message, in order, so a caller can pair them with its slots', () => {
    const plan = planRedisPublish([message({}, 'a'), message({ exchange: 'ex', routingKey: 'x' }, 'b'), message({}, 'c')], ctx());
    expect(plan.messages.map((m) => m.entry)).toEqual(['a', 'b', 'c']);
    expect(plan.size).toBe(3);
  });
});
