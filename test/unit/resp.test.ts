import { describe, expect, it } from 'vitest';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import type { TaskMessage } from '../../src/celery/message.js';
import { EnvelopePush, redisEnvelope } from '../../src/kombu/redis-envelope.js';
import type { RedisPush } from '../../src/kombu/redis-plan.js';
import { BufferPool, encodeCommand } from '../../src/kombu/resp.js';
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

/** The command as ioredis would write it from the payload strings. */
function expected(key: string, payloads: readonly string[]): Buffer {
  const arg = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  return Buffer.from(`*${payloads.length + 2}\r\n${arg('LPUSH')}${arg(key)}${payloads.map(arg).join('')}`, 'utf8');
}

const fresh = (bytes: number) => Buffer.alloc(bytes);

describe('encodeCommand writing an LPUSH of envelope pushes', () => {
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
    const { command } = encodeCommand(['LPUSH', 'q', ...pushes], fresh);
    expect(command.toString('utf8')).toBe(expected('q', text).toString('utf8'));
    expect(pushes.map((p) => p.built)).toEqual([!direct, !direct]);
  });

  it('writes a payload that was already built, and plain string payloads', () => {
    const m = message();
    const built = new EnvelopePush('q', m, '', 'q', 'tag-1');
    const text = built.payload;
    const plain: RedisPush = { key: 'q', payload: '{"x":"ü"}' };
    expect(encodeCommand(['LPUSH', 'list ☃', built, plain], fresh).command.equals(expected('list ☃', [text, '{"x":"ü"}']))).toBe(true);
  });

  it('writes a length header with fewer digits than the worst-case room and closes the gap', () => {
    const plain: RedisPush = { key: 'q', payload: 'x'.repeat(40) };
    expect(encodeCommand(['LPUSH', 'q', plain], fresh).command.equals(expected('q', ['x'.repeat(40)]))).toBe(true);
  });
});

describe('encodeCommand', () => {
  it('writes text arguments (short ASCII, short non-ASCII, long) and envelope pushes, as ioredis would write their strings', () => {
    const m = message({ args: ['wörld'] });
    const push = new EnvelopePush('q', m, '', 'q', 'tag-1');
    const text = redisEnvelope(m, '', 'q', 'tag-1');
    const long = `${'x'.repeat(70)}☃`;
    const args = ['EVALSHA', 'a'.repeat(40), '2', 'key ü', 'celery', '', long, push, '12'];
    const want = (parts: readonly string[]) =>
      Buffer.from(`*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`, 'utf8');
    expect(encodeCommand(args, fresh).command.toString('utf8')).toBe(
      want([...(args.slice(0, 7) as string[]), text, '12']).toString('utf8'),
    );
    expect(push.built).toBe(false);
  });
});

describe('encodeCommand with arguments in two arrays, one command after another', () => {
  it('writes args then rest, and a command after a larger one carries only its own values', () => {
    const m1 = message({ args: [1] });
    const m2 = message({ args: ['wörld'], taskId: 'f1e2d3c4-b5a6-5978-8695-a4b3c2d1e0f9' });
    const first = [
      new EnvelopePush('q', m1, '', 'q', 'tag-1'),
      new EnvelopePush('q', m2, '', 'q', 'tag-2'),
      new EnvelopePush('q', m1, '', 'q', 'tag-3'),
    ];
    const second = [new EnvelopePush('q', m2, '', 'q', 'tag-4')];
    const text = (pushes: readonly EnvelopePush[]) => pushes.map((p) => redisEnvelope(p.message, '', 'q', p.deliveryTag));
    expect(encodeCommand(['LPUSH'], fresh, ['q', ...first]).command.toString('utf8')).toBe(expected('q', text(first)).toString('utf8'));
    expect(encodeCommand(['LPUSH', 'q'], fresh, second).command.toString('utf8')).toBe(expected('q', text(second)).toString('utf8'));
    expect(encodeCommand(['LPUSH', 'q', ...second], fresh).command.toString('utf8')).toBe(expected('q', text(second)).toString('utf8'));
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
