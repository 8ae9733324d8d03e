import { describe, expect, it } from 'vitest';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import type { TaskMessage } from '../../src/celery/message.js';
import { EnvelopePush, redisEnvelope } from '../../src/kombu/redis-envelope.js';
import type { RedisPush } from '../../src/kombu/redis-envelope.js';
import { BufferPool, packArgs, packStrings } from '../../src/kombu/redis-envelope.js';
import type { OptionsInput } from '../../src/config/options-schema.js';
import { ENV, config, entry } from '../support/messages.js';

const NOW = Date.UTC(2026, 10, 21, 5, 32, 51, 392);

function message(
  fields: { args?: unknown[]; kwargs?: Record<string, unknown>; options?: OptionsInput; taskId?: string } = {},
  protocol: 1 | 2 = 2,
): TaskMessage {
  const template = compileMessageTemplate(
    entry({
      ...(fields.args ? { args: fields.args } : {}),
      ...(fields.kwargs ? { kwargs: fields.kwargs } : {}),
      options: fields.options ?? {},
    }),
    config({ taskProtocol: protocol }),
    ENV,
  );
  return renderTaskMessage(template, { taskId: fields.taskId ?? 'eaab4a9f-8edd-58d0-a06c-c808d759541f', slotMs: NOW, nowMs: NOW });
}

/** A packed argument read back as MessagePack says (array 32 of str 32, all packArgs writes): each string's UTF-8 text. */
function unpacked(packed: Buffer): string[] {
  expect(packed[0]).toBe(0xdd);
  const count = packed.readUInt32BE(1);
  const out: string[] = [];
  let at = 5;
  for (let i = 0; i < count; i += 1) {
    expect(packed[at]).toBe(0xdb);
    const n = packed.readUInt32BE(at + 1);
    out.push(packed.toString('utf8', at + 5, at + 5 + n));
    at += 5 + n;
  }
  expect(at).toBe(packed.length);
  return out;
}

const fresh = (bytes: number) => Buffer.alloc(bytes);

describe('packArgs writing envelope pushes', () => {
  // [what, message, written from the layout without building the text]
  // (a message made by hand, without a template, is the one that goes through its text)
  const cases: [string, TaskMessage, boolean][] = [
    ['a plain v2 message', message(), true],
    ['numeric expires and countdown', message({ options: { expires: 30, countdown: 5, priority: 5 } }), true],
    ['an ISO expires (expiration computed per message)', message({ options: { expires: '2026-11-21T06:00:00+00:00' } }), true],
    [
      'unicode in args, kwargs and headers (constants are UTF-8)',
      message({ args: ['wörld ☃ 😀'], kwargs: { ключ: 'значение' }, options: { headers: { 'x-ü': 'ß' } } }),
      true,
    ],
    ['a non-ASCII task id (escaped to ASCII like Python json.dumps)', message({ taskId: 'id-ü-☃' }), true],
    ['protocol v1 (body per message)', message({ options: { expires: 10 } }, 1), true],
    [
      'protocol v1 with unicode args and kwargs (own values of the entry, not ASCII)',
      message({ args: ['wörld ☃'], kwargs: { k: '😀' } }, 1),
      true,
    ],
  ];

  it.each(cases)('writes exactly the bytes of the envelope text for %s', (_what, m, direct) => {
    const pushes = [new EnvelopePush('q', m, '', 'q', 'tag-1'), new EnvelopePush('q', m, '', 'q', 'tag-2')];
    const text = pushes.map((p) => redisEnvelope(m, '', 'q', p.deliveryTag));
    expect(unpacked(packArgs(pushes, fresh).packed)).toEqual(text);
    expect(pushes.map((p) => p.built)).toEqual([!direct, !direct]);
  });

  it('packs text, a payload already built and plain string payloads', () => {
    const m = message();
    const built = new EnvelopePush('q', m, '', 'q', 'tag-1');
    const text = built.payload;
    const plain: RedisPush = { key: 'q', payload: '{"x":"ü"}' };
    expect(unpacked(packArgs(['list ☃', built, plain, ''], fresh).packed)).toEqual(['list ☃', text, '{"x":"ü"}', '']);
    expect(unpacked(packStrings([]))).toEqual([]);
  });

  it('writes text and envelopes in their order, and a call after a larger one carries only its own values', () => {
    const m1 = message({ args: [1] });
    const m2 = message({ args: ['wörld'], taskId: 'f1e2d3c4-b5a6-5978-8695-a4b3c2d1e0f9' });
    const first = [
      new EnvelopePush('q', m1, '', 'q', 'tag-1'),
      new EnvelopePush('q', m2, '', 'q', 'tag-2'),
      new EnvelopePush('q', m1, '', 'q', 'tag-3'),
    ];
    const second = [new EnvelopePush('q', m2, '', 'q', 'tag-4')];
    const text = (pushes: readonly EnvelopePush[]) => pushes.map((p) => redisEnvelope(p.message, '', 'q', p.deliveryTag));
    expect(unpacked(packArgs(['a', ...first, '12'], fresh).packed)).toEqual(['a', ...text(first), '12']);
    expect(unpacked(packArgs(['key ü', ...second], fresh).packed)).toEqual(['key ü', ...text(second)]);
  });
});

describe('BufferPool', () => {
  it('hands a released buffer out again instead of allocating (fresh pages are slow)', () => {
    const pool = new BufferPool(2);
    const a = pool.acquire(1000);
    pool.release(a);
    // Identity, not equality: comparing megabyte buffers by content would be slow and beside the point.
    expect(pool.acquire(500) === a).toBe(true);
  });

  it('never hands out a buffer that is still in use', () => {
    const pool = new BufferPool(2);
    const a = pool.acquire(1000);
    expect(pool.acquire(1000) === a).toBe(false);
  });
});
