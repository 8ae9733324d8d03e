import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { amqpQueueConfigProblems } from '../../src/config/amqp-queues.js';
import type { AmqpQueueConfig } from '../../src/config/amqp-queues.js';
import { fieldTable, planAmqpPublish, queueArgumentsTable, queueDeclaration } from '../../src/amqp/message.js';
import type { AmqpDelivery } from '../../src/amqp/message.js';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import type { TaskMessage } from '../../src/celery/message.js';
import type { OptionsInput, TaskRoutesInput } from '../../src/config/options-schema.js';
import { config, entry, ENV } from '../support/messages.js';

const NOW = Date.parse('2026-11-21T05:33:00.000Z');
const ID = '694bcd2a-5d3f-4c8e-9a51-3048d0d0e8d0';
const QUEUES: AmqpQueueConfig = {
  taskDefaultQueue: 'celery',
  taskQueueMaxPriority: undefined,
  taskDefaultQueueType: 'classic',
  taskCreateMissingQueueType: 'classic',
};

function render(
  fields: { args?: unknown[]; kwargs?: Record<string, unknown>; options?: OptionsInput } = {},
  cfg: { taskRoutes?: TaskRoutesInput; taskProtocol?: 1 | 2 } = {},
): TaskMessage {
  return renderTaskMessage(compileMessageTemplate(entry(fields), config(cfg), ENV), { taskId: ID, slotMs: NOW, nowMs: NOW });
}

const deliver = (message: TaskMessage, queues: AmqpQueueConfig = QUEUES): AmqpDelivery =>
  planAmqpPublish([message], queues).messages[0] as AmqpDelivery;

/** amqplib's own table encoder (not exported by the package, so loaded by path): the bytes RabbitMQ passes to the worker. */
const codec = createRequire(import.meta.url)(`${process.cwd()}/node_modules/amqplib/lib/codec.js`) as {
  encodeTable(buffer: Buffer, value: unknown, offset: number): number;
};

/**
 * py-amqp's `_read_item` (amqp/serialization.py, python3-amqp 5.1), the reader on the worker's side.
 * Note its quirks: 's' is a SHORT STRING (RabbitMQ and amqplib mean int16), 'b' is unsigned, 'l' unsigned.
 */
function pyAmqpRead(buf: Buffer, at: number): [unknown, number] {
  const tag = String.fromCharCode(buf[at] as number);
  let o = at + 1;
  switch (tag) {
    case 'S': {
      const n = buf.readUInt32BE(o);
      return [buf.toString('utf8', o + 4, o + 4 + n), o + 4 + n];
    }
    case 's': {
      const n = buf.readUInt8(o);
      return [buf.toString('utf8', o + 1, o + 1 + n), o + 1 + n];
    }
    case 'b':
      return [buf.readUInt8(o), o + 1];
    case 'I':
      return [buf.readInt32BE(o), o + 4];
    case 'L':
      return [Number(buf.readBigInt64BE(o)), o + 8];
    case 'l':
      return [Number(buf.readBigUInt64BE(o)), o + 8];
    case 'd':
      return [buf.readDoubleBE(o), o + 8];
    case 't':
      return [buf.readUInt8(o) !== 0, o + 1];
    case 'V':
      return [null, o];
    case 'F': {
      const end = o + 4 + buf.readUInt32BE(o);
      o += 4;
      const table: Record<string, unknown> = {};
      while (o < end) {
        const n = buf.readUInt8(o);
        const key = buf.toString('utf8', o + 1, o + 1 + n);
        [table[key], o] = pyAmqpRead(buf, o + 1 + n);
      }
      return [table, end];
    }
    case 'A': {
      const end = o + 4 + buf.readUInt32BE(o);
      o += 4;
      const list: unknown[] = [];
      while (o < end) {
        let value: unknown;
        [value, o] = pyAmqpRead(buf, o);
        list.push(value);
      }
      return [list, end];
    }
    default:
      throw new Error(`py-amqp would raise FrameSyntaxError on tag ${JSON.stringify(tag)}`);
  }
}

/** A header table as a Celery worker reads it: amqplib encodes, py-amqp decodes. */
function asWorkerReadsIt(table: Record<string, unknown>): unknown {
  const buf = Buffer.alloc(65536);
  buf.write('F', 0);
  const size = codec.encodeTable(buf, table, 1);
  return pyAmqpRead(buf.subarray(0, 1 + size), 0)[0];
}

describe('the message as Celery publishes it over AMQP (kombu pyamqp)', () => {
  it('sends the body as raw UTF-8 JSON, not base64 and not wrapped in an envelope', () => {
    const m = render({ args: [2, 3, 'wörld ☃'] });
    const d = deliver(m);
    expect(d.content.toString('utf8')).toBe('[[2,3,"wörld ☃"],{},{"callbacks":null,"errbacks":null,"chain":null,"chord":null}]');
    expect(d.content.equals(Buffer.from(m.body, 'utf8'))).toBe(true);
  });

  it('sets exactly the properties kombu sets, with expiration only when expires is given', () => {
    expect(deliver(render()).properties).toEqual({
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: expect.any(Object),
      deliveryMode: 2,
      priority: 0,
      correlationId: ID,
      replyTo: ENV.replyTo,
      mandatory: true,
    });
    const expiring = deliver(render({ options: { expires: 30, priority: 5, deliveryMode: 'transient' } })).properties;
    expect(expiring).toMatchObject({ expiration: '30000', priority: 5, deliveryMode: 1 });
  });

  it('puts the protocol-2 headers in the AMQP header table, as the worker reads them back', () => {
    const d = deliver(render({ args: [2, 3], options: { expires: 30, headers: { 'x-custom': 'v' } } }));
    expect(asWorkerReadsIt(d.properties.headers)).toEqual({
      lang: 'py',
      task: 'proj.add',
      id: ID,
      shadow: null,
      eta: null,
      expires: '2026-11-21T05:33:30.000000+00:00',
      group: null,
      group_index: null,
      retries: 0,
      timelimit: [null, null],
      root_id: ID,
      parent_id: null,
      argsrepr: '[2, 3]',
      kwargsrepr: '{}',
      origin: ENV.origin,
      ignore_result: false,
      replaced_task_nesting: 0,
      stamped_headers: null,
      stamps: {},
      beat_entry: 'add-every-minute',
      beat_scheduled_at: '2026-11-21T05:33:00.000000+00:00',
      periodic_task_name: 'add-every-minute',
      traceparent: `00-${ID.replace(/-/g, '')}-${ID.replace(/-/g, '').slice(16)}-01`,
      'x-custom': 'v',
    });
  });

  it("keeps integers integers for py-amqp, which reads amqplib's int16 tag as a short string (timelimit [300, 250] would corrupt the table)", () => {
    const values = {
      small: 1,
      negative: -5,
      short: 300,
      negShort: -300,
      int: 100_000,
      big: 2 ** 40,
      huge: 9007199254740991,
      fraction: 0.5,
      list: [300, -129, 70_000],
    };
    const table = fieldTable(values);
    expect(asWorkerReadsIt(table)).toEqual(values);
    const limits = deliver(render({ options: { timeLimit: 300, softTimeLimit: 250.5 } }));
    expect((asWorkerReadsIt(limits.properties.headers) as { timelimit: unknown }).timelimit).toEqual([300, 250.5]);
  });

  it("keeps a custom header object with a '!' key as data (amqplib would take it for its type marker)", () => {
    const headers = { 'x-weird': { '!': 'not a type', value: 1, nested: { '!': 2 } }, 'x-empty': {}, 'x-list': [{ '!': 'x' }] };
    expect(asWorkerReadsIt(fieldTable(headers))).toEqual(headers);
  });

  it('flags a header key longer than a field-table key can be, instead of failing inside amqplib', () => {
    const d = deliver(render({ options: { headers: { ['k'.repeat(256)]: 1 } } }));
    expect(d.problem).toBe(`the header key ${JSON.stringify(`${'k'.repeat(40)}…`)} is longer than AMQP's 255 bytes`);
    expect(deliver(render({ options: { headers: { ['k'.repeat(255)]: 1 } } })).problem).toBeUndefined();
  });

  it('protocol 1: the whole task in a JSON object body, headers holding only the beat fields', () => {
    const d = deliver(render({ args: [1] }, { taskProtocol: 1 }));
    expect(JSON.parse(d.content.toString('utf8'))).toMatchObject({ task: 'proj.add', id: ID, args: [1], kwargs: {}, utc: true });
    expect(asWorkerReadsIt(d.properties.headers)).toEqual({
      beat_entry: 'add-every-minute',
      beat_scheduled_at: '2026-11-21T05:33:00.000000+00:00',
      periodic_task_name: 'add-every-minute',
      traceparent: `00-${ID.replace(/-/g, '')}-${ID.replace(/-/g, '').slice(16)}-01`,
    });
  });
});

describe('routing and declarations (celery-protocol.md §3.4)', () => {
  it('publishes to the default exchange with the queue name as routing key, declaring the queue once', () => {
    const plan = planAmqpPublish([render(), render(), render({ options: { queue: 'reports' } })], QUEUES);
    expect(plan.messages.map((m) => [m.exchange, m.routingKey, m.declareQueue])).toEqual([
      ['', 'celery', 'celery'],
      ['', 'celery', 'celery'],
      ['', 'reports', 'reports'],
    ]);
    expect(plan.declarations).toEqual([
      { queue: 'celery', exchange: 'celery', exchangeType: 'direct', routingKey: 'celery', arguments: {} },
      { queue: 'reports', exchange: 'reports', exchangeType: 'direct', routingKey: 'reports', arguments: {} },
    ]);
    expect(plan).toMatchObject({ size: 3 });
  });

  it('publishes to a configured exchange and routing key, declaring the routed queue as Celery does', () => {
    const d = deliver(
      render({}, { taskRoutes: { 'proj.*': { queue: 'q1', exchange: 'events', exchangeType: 'topic', routingKey: 'task.add' } } }),
    );
    expect([d.exchange, d.routingKey, d.declareQueue]).toEqual(['events', 'task.add', 'q1']);
    const noQueue = deliver(
      render({}, { taskRoutes: { 'proj.*': { exchange: 'events', exchangeType: 'topic', routingKey: 'task.add' } } }),
    );
    expect([noQueue.exchange, noQueue.routingKey, noQueue.declareQueue]).toEqual(['events', 'task.add', undefined]);
  });

  it('adds x-max-priority to every queue and x-queue-type to the default queue or the others, as configured', () => {
    const prio = { ...QUEUES, taskQueueMaxPriority: 10 };
    expect(queueDeclaration('celery', prio).arguments).toEqual({ 'x-max-priority': 10 });
    expect(queueDeclaration('other', prio).arguments).toEqual({ 'x-max-priority': 10 });
    const quorum = { ...QUEUES, taskDefaultQueueType: 'quorum' as const };
    expect(queueDeclaration('celery', quorum).arguments).toEqual({ 'x-queue-type': 'quorum' });
    // Celery 5.5 makes only the default queue quorum; 5.6's task_create_missing_queue_type covers the rest.
    expect(queueDeclaration('other', quorum).arguments).toEqual({});
    expect(queueDeclaration('other', { ...QUEUES, taskCreateMissingQueueType: 'quorum' }).arguments).toEqual({ 'x-queue-type': 'quorum' });
  });

  it('sends x-max-priority as a signed 32-bit integer, as py-amqp declares it (RabbitMQ compares redeclarations)', () => {
    expect(queueArgumentsTable(queueDeclaration('celery', { ...QUEUES, taskQueueMaxPriority: 10 }))).toEqual({
      'x-max-priority': { '!': 'int32', value: 10 },
    });
  });

  it('names each configuration RabbitMQ would refuse', () => {
    expect(amqpQueueConfigProblems({ ...QUEUES, taskQueueMaxPriority: 5, taskCreateMissingQueueType: 'quorum' })).toEqual([
      'taskQueueMaxPriority (x-max-priority) cannot be used with taskCreateMissingQueueType: "quorum": RabbitMQ refuses x-max-priority on a quorum queue (406 PRECONDITION_FAILED); remove one of the two',
    ]);
    expect(amqpQueueConfigProblems({ ...QUEUES, taskDefaultQueueType: 'quorum' })).toEqual([]);
  });
});
