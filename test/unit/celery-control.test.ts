/**
 * Celery's revoke broadcast as tsbeat encodes it, held to what Celery 5.2.6 / kombu 5.2.4 sent for
 * `app.control.revoke(...)` (test/fixtures/celery-revoke.json, captured from a Redis broker's
 * pub/sub channel and from a queue bound to RabbitMQ's celery.pidbox exchange): the channel or
 * exchange, the envelope's and properties' keys and values, the decoded body, the headers (clock an
 * integer, expires a float about a second after sending). Only the delivery tag and times differ.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { amqpBroadcast } from '../../src/amqp/pidbox.js';
import { activeQueuesMessage, activeQueuesOf, revokeMessage } from '../../src/celery/remote-control.js';
import { kombuKeyOptions } from '../../src/kombu/keys.js';
import { pidboxAnswer, pidboxPublish, pidboxReplyQueue } from '../../src/kombu/pidbox.js';

interface Call {
  readonly task_id: string;
  readonly terminate?: boolean;
  readonly signal?: string;
}
const golden = JSON.parse(readFileSync(new URL('../fixtures/celery-revoke.json', import.meta.url), 'utf8')) as {
  redis: { call: Call; sentAt: number; channel: string; message: string }[];
  amqp: { call: Call; sentAt: number; exchange: string; routingKey: string; body: string; properties: Record<string, unknown> }[];
};

/** Celery's defaults for what the call leaves out (control.py: terminate=False, signal=TERM_SIGNAME). */
const commandOf = (call: Call) => ({ taskIds: [call.task_id], terminate: call.terminate ?? false, signal: call.signal ?? 'SIGTERM' });

describe("revoke as Celery's remote control sends it", () => {
  it.each(golden.redis.map((g, i) => [i, g] as const))('on a Redis broker: the PUBLISH of capture %i', (_i, g) => {
    const nowMs = g.sentAt * 1000;
    const ours = pidboxPublish(revokeMessage(commandOf(g.call), 7, nowMs, 'celery'), kombuKeyOptions({}, 3));
    expect(ours.channel).toBe(g.channel);
    const python = JSON.parse(g.message) as Record<string, unknown>;
    const mine = JSON.parse(ours.payload) as Record<string, unknown>;
    expect(Object.keys(mine).sort()).toEqual(Object.keys(python).sort());
    for (const key of ['content-encoding', 'content-type']) expect(mine[key]).toBe(python[key]);
    const props = (e: Record<string, unknown>) => e['properties'] as Record<string, unknown>;
    expect(Object.keys(props(mine)).sort()).toEqual(Object.keys(props(python)).sort());
    for (const key of ['delivery_mode', 'delivery_info', 'priority', 'body_encoding']) expect(props(mine)[key]).toEqual(props(python)[key]);
    expect(props(mine)['delivery_tag']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const body = (e: Record<string, unknown>) => JSON.parse(Buffer.from(String(e['body']), 'base64').toString('utf8')) as unknown;
    expect(body(mine)).toEqual(body(python));
    const headers = (e: Record<string, unknown>) => e['headers'] as { clock: number; expires: number };
    expect(Object.keys(headers(mine)).sort()).toEqual(Object.keys(headers(python)).sort());
    expect(Number.isInteger(headers(python).clock)).toBe(true);
    expect(headers(mine).clock).toBe(7);
    // Python: time() + timeout (1.0) when the message is published, a little after the call began.
    expect(headers(python).expires - g.sentAt).toBeGreaterThanOrEqual(1);
    expect(headers(mine).expires - g.sentAt).toBeCloseTo(1, 6);
  });

  it('on a Redis broker, with a global_keyprefix and fanout options as kombu forms the channel', () => {
    const message = revokeMessage(commandOf(golden.redis[0]!.call), 1, 0, 'myapp');
    expect(pidboxPublish(message, kombuKeyOptions({ globalKeyprefix: 'pre:' }, 5)).channel).toBe('pre:/5.myapp.pidbox');
    expect(pidboxPublish(message, kombuKeyOptions({ fanoutPrefix: false }, 5)).channel).toBe('myapp.pidbox');
  });

  it.each(golden.amqp.map((g, i) => [i, g] as const))('on RabbitMQ: the basic.publish of capture %i', (_i, g) => {
    const ours = amqpBroadcast(revokeMessage(commandOf(g.call), 3, g.sentAt * 1000, 'celery'));
    expect(ours.exchange.name).toBe(g.exchange);
    expect(ours.routingKey).toBe(g.routingKey);
    expect(JSON.parse(ours.content.toString('utf8'))).toEqual(JSON.parse(g.body));
    const p = g.properties;
    expect(ours.properties.contentType).toBe(p['content_type']);
    expect(ours.properties.contentEncoding).toBe(p['content_encoding']);
    expect(ours.properties.deliveryMode).toBe(p['delivery_mode']);
    expect(ours.properties.priority).toBe(p['priority']);
    const python = p['application_headers'] as { clock: number; expires: number };
    expect(Object.keys(ours.properties.headers).sort()).toEqual(Object.keys(python).sort());
    expect(ours.properties.headers['clock']).toEqual({ '!': 'int64', value: 3 });
    expect(ours.properties.headers['expires']!['!']).toBe('double');
    expect(Number(ours.properties.headers['expires']!.value) - g.sentAt).toBeCloseTo(1, 6);
    expect(python.expires - g.sentAt).toBeGreaterThanOrEqual(1);
  });

  it('sends several ids as a list, as Celery does for revoke([..])', () => {
    const body = JSON.parse(revokeMessage({ taskIds: ['a', 'b'], terminate: false, signal: 'SIGTERM' }, 1, 0, 'celery').body) as {
      arguments: { task_id: unknown };
    };
    expect(body.arguments.task_id).toEqual(['a', 'b']);
    expect(() => revokeMessage({ taskIds: [], terminate: false, signal: 'SIGTERM' }, 1, 0, 'celery')).toThrow(/at least one/);
  });
});

describe("inspect active_queues as Celery's remote control sends it", () => {
  // Captured from `app.control.inspect(timeout=0.5).active_queues()` (Celery 5.2.6, kombu 5.2.4) on
  // a Redis broker's DB 9: the decoded body, and the member kombu added to the reply exchange's binding set.
  const oid = '3aa2cf4e-32d3-34c7-afe0-27c7b415fb9f';
  const ticket = '76369be5-042e-4f5c-ac08-422cf84a960b';
  const capturedBody =
    '{"method": "active_queues", "arguments": {}, "destination": null, "pattern": null, "matcher": null, "ticket": "76369be5-042e-4f5c-ac08-422cf84a960b", "reply_to": {"exchange": "reply.celery.pidbox", "routing_key": "3aa2cf4e-32d3-34c7-afe0-27c7b415fb9f"}}';

  it('publishes the body kombu publishes, with a reply address, on the pidbox channel', () => {
    const ours = pidboxPublish(activeQueuesMessage({ ticket, oid }, 1, 1_795_590_026_400, 'celery', 1), kombuKeyOptions({}, 9));
    expect(ours.channel).toBe('/9.celery.pidbox');
    const envelope = JSON.parse(ours.payload) as { body: string; headers: { clock: number; expires: number } };
    expect(JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8'))).toEqual(JSON.parse(capturedBody));
    // The same key order as Python's dict, so the bytes match too.
    expect(Buffer.from(envelope.body, 'base64').toString('utf8')).toBe(JSON.stringify(JSON.parse(capturedBody)));
    expect(envelope.headers).toEqual({ clock: 1, expires: 1_795_590_027.4 });
  });

  it("binds its reply list as kombu's maybe_declare(reply_queue) does on Redis", () => {
    expect(pidboxReplyQueue(kombuKeyOptions({}, 9), 'celery', oid)).toEqual({
      bindingKey: '_kombu.binding.reply.celery.pidbox',
      member: `${oid}\x06\x16\x06\x16${oid}.reply.celery.pidbox`,
      list: `${oid}.reply.celery.pidbox`,
    });
    expect(pidboxReplyQueue(kombuKeyOptions({ globalKeyprefix: 'app:' }, 0), 'celery', oid).list).toBe(`app:${oid}.reply.celery.pidbox`);
  });

  it("reads a worker's answer of its ticket only, and the queue names in it", () => {
    const answer = (t: string, body: unknown): string =>
      JSON.stringify({
        body: Buffer.from(JSON.stringify(body)).toString('base64'),
        'content-type': 'application/json',
        headers: { ticket: t, clock: 3 },
        properties: { body_encoding: 'base64' },
      });
    const body = { 'w1@host': [{ name: 'celery', exchange: { name: 'celery' } }, { name: 'mail' }], 'w2@host': { error: "KeyError('x')" } };
    expect(pidboxAnswer(answer('other', body), ticket)).toBeUndefined();
    const read = activeQueuesOf(pidboxAnswer(answer(ticket, body), ticket));
    expect([...(read ?? [])]).toEqual([
      ['w1@host', ['celery', 'mail']],
      ['w2@host', []],
    ]);
    expect(activeQueuesOf(['not', 'an', 'answer'])).toBeUndefined();
  });
});
