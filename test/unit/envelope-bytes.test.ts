import { unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import type { TaskMessage } from '../../src/celery/message.js';
import { EnvelopePush, redisEnvelope } from '../../src/kombu/redis-envelope.js';
import type { RedisPush } from '../../src/kombu/redis-envelope.js';
import { packArgs } from '../../src/kombu/redis-envelope.js';
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

/** A packed argument read back as MessagePack (an array of strings, as cmsgpack.unpack reads it in the script). */
function unpacked(packed: Buffer): string[] {
  const value = unpack(packed) as unknown;
  expect(Array.isArray(value)).toBe(true);
  for (const item of value as unknown[]) expect(typeof item).toBe('string');
  return value as string[];
}

describe('packArgs: script arguments as one MessagePack array', () => {
  const cases: [string, TaskMessage][] = [
    ['a plain v2 message', message()],
    ['numeric expires and countdown', message({ options: { expires: 30, countdown: 5, priority: 5 } })],
    ['an ISO expires (expiration computed per message)', message({ options: { expires: '2026-11-21T06:00:00+00:00' } })],
    [
      'unicode in args, kwargs and headers (constants are UTF-8)',
      message({ args: ['wörld ☃ 😀'], kwargs: { ключ: 'значение' }, options: { headers: { 'x-ü': 'ß' } } }),
    ],
    ['a non-ASCII task id (escaped to ASCII like Python json.dumps)', message({ taskId: 'id-ü-☃' })],
    ['protocol v1 (body per message)', message({ options: { expires: 10 } }, 1)],
    [
      'protocol v1 with unicode args and kwargs (own values of the entry, not ASCII)',
      message({ args: ['wörld ☃'], kwargs: { k: '😀' } }, 1),
    ],
  ];

  it.each(cases)('packs exactly the envelope text for %s', (_what, m) => {
    const pushes = [new EnvelopePush('q', m, '', 'q', 'tag-1'), new EnvelopePush('q', m, '', 'q', 'tag-2')];
    const text = pushes.map((p) => redisEnvelope(m, '', 'q', p.deliveryTag));
    expect(unpacked(packArgs(pushes).bytes)).toEqual(text);
  });

  it('packs text, a payload already built and plain string payloads', () => {
    const m = message();
    const built = new EnvelopePush('q', m, '', 'q', 'tag-1');
    const text = built.payload;
    const plain: RedisPush = { key: 'q', payload: '{"x":"ü"}' };
    expect(unpacked(packArgs(['list ☃', built, plain, '']).bytes)).toEqual(['list ☃', text, '{"x":"ü"}', '']);
    expect(unpacked(packArgs([]).bytes)).toEqual([]);
    // Long enough for MessagePack's 16- and 32-bit string lengths.
    const long = ['x'.repeat(300), 'ü'.repeat(40_000)];
    expect(unpacked(packArgs(long).bytes)).toEqual(long);
  });

  it('packs text and envelopes in their order, one call after another', () => {
    const m1 = message({ args: [1] });
    const m2 = message({ args: ['wörld'], taskId: 'f1e2d3c4-b5a6-5978-8695-a4b3c2d1e0f9' });
    const first = [
      new EnvelopePush('q', m1, '', 'q', 'tag-1'),
      new EnvelopePush('q', m2, '', 'q', 'tag-2'),
      new EnvelopePush('q', m1, '', 'q', 'tag-3'),
    ];
    const second = [new EnvelopePush('q', m2, '', 'q', 'tag-4')];
    const text = (pushes: readonly EnvelopePush[]) => pushes.map((p) => redisEnvelope(p.message, '', 'q', p.deliveryTag));
    expect(unpacked(packArgs(['a', ...first, '12']).bytes)).toEqual(['a', ...text(first), '12']);
    expect(unpacked(packArgs(['key ü', ...second]).bytes)).toEqual(['key ü', ...text(second)]);
  });

  it('never packs over the bytes of a call not released, and reuses a released buffer', () => {
    const held = packArgs(['held', 'x'.repeat(1000)]);
    const copy = Buffer.from(held.bytes);
    // Calls in flight meanwhile, released or not, and one past a kept buffer's size (1 MiB), whose
    // grown buffer is too large to keep.
    const big = ['y'.repeat(3 << 20)];
    const lent: ArrayBufferLike[] = [];
    for (const args of [['a'], ['b', 'c'], big, ['d']]) {
      const packed = packArgs(args);
      expect(unpacked(packed.bytes)).toEqual(args);
      lent.push(packed.bytes.buffer);
      packed.release();
      packed.release(); // twice is once
    }
    // ['b', 'c'] had the buffer ['a'] gave back; the big one grew past it into one of 12 MiB, not
    // kept, and gave the one lent back, which ['d'] had.
    expect(lent[1] === lent[0]).toBe(true);
    expect(lent[2] === lent[0]).toBe(false);
    expect(lent[3] === lent[0]).toBe(true);
    expect(held.bytes.equals(copy)).toBe(true);
    expect(unpacked(held.bytes)).toEqual(['held', 'x'.repeat(1000)]);
    held.release();
    const after = packArgs(['e']);
    expect(unpacked(after.bytes)).toEqual(['e']);
    // The buffer released last is lent next: the same memory, not a new buffer.
    const again = packArgs(['f']);
    after.release();
    const reused = packArgs(['g']);
    expect(reused.bytes.buffer === after.bytes.buffer).toBe(true);
    again.release();
    reused.release();
  });
});
