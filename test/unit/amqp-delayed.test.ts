/**
 * Native delayed delivery (src/amqp/native-delayed-delivery.ts) against what Celery 5.5's own
 * send_task publishes on RabbitMQ for the same countdowns (test/fixtures/celery-delayed-5.5.json,
 * captured from the broker by test/support/capture_delayed.py): message by message, the exchange,
 * the routing key, every property, header and body value (the times compared by their distance, as
 * both count them from their own publish time), and where it does not apply.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planAmqpPublish } from '../../src/amqp/message.js';
import type { AmqpPublishPlan } from '../../src/amqp/message.js';
import { DELAYED_DELIVERY_BITS, delayedRoutingKey, nativeDelayedRoute } from '../../src/amqp/native-delayed-delivery.js';
import type { DelayableQueue } from '../../src/amqp/native-delayed-delivery.js';
import type { AmqpQueueConfig } from '../../src/config/amqp-queues.js';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import type { TaskMessage } from '../../src/celery/message.js';
import type { OptionsInput } from '../../src/config/options-schema.js';
import { config, entry } from '../support/messages.js';

interface CapturedMessage {
  exchange: string;
  routing_key: string;
  properties: Record<string, unknown>;
  headers: Record<string, unknown>;
  body: unknown;
}
interface Captured {
  readonly celery: string;
  readonly cases: Record<string, { error: string | null; messages: CapturedMessage[] }>;
}

const FIXTURE = JSON.parse(readFileSync('test/fixtures/celery-delayed-5.5.json', 'utf8')) as Captured;
const DEFAULT = 'tsbeat-capture-default';
const NOW = Date.parse('2026-11-25T09:48:00.000Z');

/** capture_delayed.py's apps as tsbeat's queue settings. */
const QUORUM_TOPIC: AmqpQueueConfig = {
  taskDefaultQueue: DEFAULT,
  taskQueueMaxPriority: undefined,
  taskDefaultQueueType: 'quorum',
  taskCreateMissingQueueType: 'classic',
  taskDefaultExchangeType: 'topic',
  taskCreateMissingQueueExchangeType: 'direct',
};
const QUORUM_DIRECT: AmqpQueueConfig = { ...QUORUM_TOPIC, taskDefaultQueue: `${DEFAULT}-direct`, taskDefaultExchangeType: 'direct' };

/** capture_delayed.py's send_task calls as entries. */
const CASES: Record<string, { queues: AmqpQueueConfig; args?: unknown[]; kwargs?: Record<string, unknown>; options: OptionsInput }> = {
  'countdown-10': { queues: QUORUM_TOPIC, args: [1, 2], options: { countdown: 10 } },
  'countdown-3.7-expires-headers': {
    queues: QUORUM_TOPIC,
    args: [3],
    kwargs: { k: 'v' },
    options: { countdown: 3.7, expires: 600, headers: { 'x-h': 1 }, timeLimit: 30 },
  },
  'countdown-100000': { queues: QUORUM_TOPIC, options: { countdown: 100000 } },
  'missing-queue': { queues: QUORUM_TOPIC, options: { countdown: 10, queue: 'tsbeat-capture-other' } },
  'direct-exchange': { queues: QUORUM_DIRECT, options: { countdown: 10 } },
};

/** tsbeat's run of a case: the message rendered with Celery's task id, origin and reply_to, and its plan. */
function publish(name: string, captured: CapturedMessage): { message: TaskMessage; plan: AmqpPublishPlan } {
  const c = CASES[name];
  if (c === undefined) throw new Error(`no entry for case ${name}`);
  const env = { origin: String(captured.headers['origin']), replyTo: String(captured.properties['reply_to']) };
  const e = entry({ name, task: 't.add', args: c.args ?? [], kwargs: c.kwargs ?? {}, options: c.options });
  const template = compileMessageTemplate(e, config({ taskDefaultQueue: c.queues.taskDefaultQueue }), env);
  const message = renderTaskMessage(template, { taskId: String(captured.properties['correlation_id']), slotMs: NOW, nowMs: NOW });
  return { message, plan: planAmqpPublish([message], c.queues) };
}
const plan = (name: string, captured: CapturedMessage): AmqpPublishPlan => publish(name, captured).plan;

const seconds = (iso: unknown): number => Date.parse(String(iso)) / 1000;

describe(`native delayed delivery: tsbeat publishes what Celery ${FIXTURE.celery}'s send_task publishes`, () => {
  it('the fixture is the newer generation, and holds every case', () => {
    expect(FIXTURE.celery).toMatch(/^5\.[5-9]/);
    expect(Object.keys(FIXTURE.cases).sort()).toEqual([...Object.keys(CASES), 'countdown-0.5'].sort());
  });

  for (const name of Object.keys(CASES)) {
    it(`${name}: the same exchange, routing key, properties, headers and body`, () => {
      const captured = FIXTURE.cases[name]?.messages;
      expect(captured).toHaveLength(1);
      const theirs = captured?.[0] as CapturedMessage;
      const run = publish(name, theirs);
      const ours = run.plan.messages[0];
      expect([ours?.exchange, ours?.routingKey]).toEqual([theirs.exchange, theirs.routing_key]);
      const p = ours?.properties;
      const { contentType, contentEncoding, deliveryMode, priority, correlationId, replyTo, expiration } = p ?? {};
      expect({
        content_type: contentType,
        content_encoding: contentEncoding,
        delivery_mode: deliveryMode,
        priority,
        correlation_id: correlationId,
        reply_to: replyTo,
        ...(expiration === undefined ? {} : { expiration }),
      }).toEqual(theirs.properties);
      const headers = JSON.parse(run.message.headersJson) as Record<string, unknown>;
      // Every header Celery writes, with its value; the times by their distance from each other.
      const { eta, expires, ...rest } = theirs.headers;
      for (const [key, value] of Object.entries(rest)) expect([key, headers[key]]).toEqual([key, value]);
      if (expires !== null && expires !== undefined)
        expect(seconds(headers['expires']) - seconds(headers['eta'])).toBeCloseTo(seconds(expires) - seconds(eta), 5);
      expect(eta === null).toBe(headers['eta'] === null);
      expect(JSON.parse(ours?.content.toString('utf8') ?? 'null')).toEqual(theirs.body);
    });
  }

  it("declares a delayed message's queue with its topic exchange and the worker's bindings to celery_delayed_delivery; the others as before", () => {
    const delayed = plan('countdown-10', FIXTURE.cases['countdown-10']?.messages[0] as CapturedMessage);
    expect(delayed.declarations).toEqual([
      {
        queue: DEFAULT,
        exchange: DEFAULT,
        exchangeType: 'topic',
        routingKey: DEFAULT,
        arguments: { 'x-queue-type': 'quorum' },
        delayedBindingKey: `#.${DEFAULT}`,
      },
    ]);
    const missing = plan('missing-queue', FIXTURE.cases['missing-queue']?.messages[0] as CapturedMessage);
    expect(missing.declarations).toEqual([
      {
        queue: 'tsbeat-capture-other',
        exchange: 'tsbeat-capture-other',
        exchangeType: 'direct',
        routingKey: 'tsbeat-capture-other',
        arguments: {},
      },
    ]);
  });

  it('under a second, where kombu refuses the routing key, publishes straight to the queue', () => {
    expect(FIXTURE.cases['countdown-0.5']).toEqual({ error: 'ValueError: countdown must be a positive number', messages: [] });
    const e = entry({ task: 't.add', options: { countdown: 0.5 } });
    const message = renderTaskMessage(compileMessageTemplate(e, config({ taskDefaultQueue: DEFAULT }), { origin: 'o', replyTo: 'r' }), {
      taskId: 'id',
      slotMs: NOW,
      nowMs: NOW,
    });
    const d = planAmqpPublish([message], QUORUM_TOPIC);
    expect([d.messages[0]?.exchange, d.messages[0]?.routingKey, d.declarations[0]?.delayedBindingKey]).toEqual(['', DEFAULT, undefined]);
  });
});

describe('when native delayed delivery applies (Celery 5.5 send_task and detect_quorum_queues)', () => {
  const queue = (exchangeType: 'direct' | 'topic' | 'fanout', quorum: boolean): DelayableQueue => ({
    routingKey: 'q',
    exchangeType,
    arguments: quorum ? { 'x-queue-type': 'quorum' } : {},
  });
  const classic: AmqpQueueConfig = { ...QUORUM_TOPIC, taskDefaultQueueType: 'classic' };

  it("kombu's calculate_routing_key: the 28 bits, most significant first, then the queue's routing key", () => {
    expect(delayedRoutingKey(1, 'q')).toBe(`${'0.'.repeat(27)}1.q`);
    expect(delayedRoutingKey(2 ** 28 - 1, 'a.b')).toBe(`${'1.'.repeat(28)}a.b`);
    expect(DELAYED_DELIVERY_BITS).toBe(28);
  });

  it('applies to a countdown of 1 s to 2^28 - 1 s, whole seconds (int(countdown)), for a quorum queue behind a topic or fanout exchange', () => {
    expect(nativeDelayedRoute(1_000_000, queue('topic', true), classic)).toEqual({
      exchange: 'celery_delayed_27',
      routingKey: delayedRoutingKey(1, 'q'),
    });
    expect(nativeDelayedRoute(2_999_999, queue('fanout', true), classic)?.routingKey).toBe(delayedRoutingKey(2, 'q'));
    expect(nativeDelayedRoute((2 ** 28 - 1) * 1e6, queue('topic', true), classic)?.routingKey).toBe(delayedRoutingKey(2 ** 28 - 1, 'q'));
  });

  it('applies to a classic queue behind a topic exchange when the default queue is quorum (Celery looks at any of the app queues)', () => {
    expect(nativeDelayedRoute(5e6, queue('topic', false), QUORUM_TOPIC)?.exchange).toBe('celery_delayed_27');
  });

  it('does not apply: no countdown, no quorum queue, a direct exchange, under 1 s, past 2^28 - 1 s', () => {
    expect(nativeDelayedRoute(undefined, queue('topic', true), classic)).toBeUndefined();
    expect(nativeDelayedRoute(5e6, queue('topic', false), classic)).toBeUndefined();
    expect(nativeDelayedRoute(5e6, queue('direct', true), QUORUM_TOPIC)).toBeUndefined();
    expect(nativeDelayedRoute(999_999, queue('topic', true), classic)).toBeUndefined();
    expect(nativeDelayedRoute(2 ** 28 * 1e6, queue('topic', true), classic)).toBeUndefined();
  });

  it("a queue created on demand follows Celery 5.6's task_create_missing_queue_type and task_create_missing_queue_exchange_type", () => {
    const e = entry({ task: 't.add', options: { countdown: 30, queue: 'reports' } });
    const message = renderTaskMessage(compileMessageTemplate(e, config(), { origin: 'o', replyTo: 'r' }), {
      taskId: 'id',
      slotMs: NOW,
      nowMs: NOW,
    });
    const five6: AmqpQueueConfig = {
      ...QUORUM_TOPIC,
      taskDefaultQueue: 'celery',
      taskDefaultQueueType: 'classic',
      taskCreateMissingQueueType: 'quorum',
      taskCreateMissingQueueExchangeType: 'topic',
    };
    const d = planAmqpPublish([message, message], five6);
    expect(d.messages.map((m) => [m.exchange, m.routingKey])).toEqual([
      ['celery_delayed_27', delayedRoutingKey(30, 'reports')],
      ['celery_delayed_27', delayedRoutingKey(30, 'reports')],
    ]);
    expect(d.declarations).toEqual([
      {
        queue: 'reports',
        exchange: 'reports',
        exchangeType: 'topic',
        routingKey: 'reports',
        arguments: { 'x-queue-type': 'quorum' },
        delayedBindingKey: '#.reports',
      },
    ]);
    // The same entry under Celery 5.5's settings (no exchange type for created queues: direct).
    const five5 = planAmqpPublish([message], { ...five6, taskCreateMissingQueueExchangeType: 'direct' });
    expect([five5.messages[0]?.exchange, five5.messages[0]?.routingKey]).toEqual(['', 'reports']);
  });
});
