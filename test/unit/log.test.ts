import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { BeatError, ErrorCode } from '../../src/base/errors.js';
import { LineBatcher, createLogger, prettyStream, serializeError } from '../../src/base/log.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function recordingSink() {
  const writes: string[] = [];
  const flushes: string[] = [];
  return {
    writes,
    flushes,
    sink: {
      write: (text: string) => void writes.push(text),
      flush: (callback: (error?: Error) => void) => {
        flushes.push('flush');
        callback();
      },
      flushSync: () => void flushes.push('flushSync'),
    },
  };
}

describe('LineBatcher (the logger destination of `beat run`)', () => {
  it('hands the lines of one turn to its stream as one write, in order, on the next turn', async () => {
    const { writes, sink } = recordingSink();
    const logger = pino({ base: null, timestamp: false }, new LineBatcher(sink));
    for (let i = 0; i < 1000; i += 1) logger.info({ event: 'beat.fire', i }, 'published');
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toHaveLength(1);
    const lines = (writes[0] as string)
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { i: number; event: string });
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(lines.every((l) => l.event === 'beat.fire')).toBe(true);
    logger.warn('alone');
    await nextTurn();
    expect(writes).toHaveLength(2);
    expect(JSON.parse(writes[1] as string)).toMatchObject({ msg: 'alone', level: 40 });
  });

  it('flush() and flushSync() hand pending lines over at once, then flush the stream', async () => {
    const { writes, flushes, sink } = recordingSink();
    const batcher = new LineBatcher(sink);
    const logger = pino({ base: null, timestamp: false }, batcher);
    logger.info('before flush');
    let flushed = false;
    logger.flush(() => {
      flushed = true;
    });
    expect(writes).toHaveLength(1);
    expect(flushes).toEqual(['flush']);
    expect(flushed).toBe(true);
    logger.info('before exit');
    batcher.flushSync();
    expect(writes).toHaveLength(2);
    expect(flushes).toEqual(['flush', 'flushSync']);
    // Nothing is written twice when the scheduled turn comes.
    await nextTurn();
    expect(writes).toHaveLength(2);
  });
});

/** A refused connection as Node reports it, wrapped the way tsbeat wraps failures. */
function wrappedFailure(): BeatError {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED' });
  return new BeatError(ErrorCode.RedisUnavailable, 'cannot reach Redis', { cause: refused });
}

function jsonLines(base?: Record<string, string>) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'debug',
    base,
    destination: { write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>) },
  });
  return { lines, logger };
}

describe('createLogger: what each JSON line carries', () => {
  it('logs an error as its message, code and cause chain, not as "type": "Object" with an empty stack', () => {
    const { lines, logger } = jsonLines();
    logger.warn({ event: 'beat.redis.error', err: wrappedFailure() }, 'a wrapped error');
    logger.warn({ event: 'beat.broker.error', err: { message: 'channel closed' } }, 'an error-like object');
    logger.warn({ event: 'beat.tick.error', err: 'just text' }, 'a string');
    const dual = new AggregateError(
      [
        Object.assign(new Error('connect ECONNREFUSED ::1:6390'), { code: 'ECONNREFUSED' }),
        new Error('connect ECONNREFUSED 127.0.0.1:6390'),
      ],
      '',
    );
    logger.warn({ event: 'beat.redis.error', err: Object.assign(dual, { code: 'ECONNREFUSED' }) }, 'an empty AggregateError');
    expect(lines.map((l) => l['err'])).toEqual([
      {
        message: 'cannot reach Redis',
        type: 'BeatError',
        code: 'REDIS_UNAVAILABLE',
        cause: { message: 'connect ECONNREFUSED 127.0.0.1:6390', code: 'ECONNREFUSED' },
      },
      { message: 'channel closed' },
      { message: 'just text' },
      { message: 'connect ECONNREFUSED ::1:6390; connect ECONNREFUSED 127.0.0.1:6390', type: 'AggregateError', code: 'ECONNREFUSED' },
    ]);
    expect(JSON.stringify(lines)).not.toMatch(/"stack"|"Object"/);
  });

  it('puts the base fields (instance, deployment) on every line, child loggers included', () => {
    const { lines, logger } = jsonLines({ instance: 'host:1:abc', deployment: 'myapp' });
    logger.error({ event: 'beat.reload.failed' }, 'logged by the command');
    logger.child({ broker: 'redis://127.0.0.1:6379/0' }).warn({ event: 'beat.broker.error' }, 'logged by the transport');
    expect(lines).toEqual([
      expect.objectContaining({ instance: 'host:1:abc', deployment: 'myapp', event: 'beat.reload.failed' }),
      expect.objectContaining({
        instance: 'host:1:abc',
        deployment: 'myapp',
        event: 'beat.broker.error',
        broker: 'redis://127.0.0.1:6379/0',
      }),
    ]);
  });
});

describe('prettyStream (the lines `beat run` writes to a terminal)', () => {
  function prettyLines(write: (logger: pino.Logger) => void): string[] {
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    const logger = pino(
      { base: { pid: 1, instance: 'host:1:abc', deployment: 'myapp' }, serializers: { err: serializeError } },
      prettyStream(out, false),
    );
    write(logger);
    return text.trimEnd().split('\n');
  }

  it('leaves out the fields every line repeats, and shows an error after the message with its code and cause', () => {
    const lines = prettyLines((logger) => {
      logger.info({ event: 'beat.fire', entry: 'tick' }, 'published');
      logger.warn({ event: 'beat.redis.error', err: wrappedFailure() }, 'Redis unreachable; retrying');
    });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[[\d:.]+\] INFO: published \{"event":"beat\.fire","entry":"tick"\}$/);
    expect(lines[1]).toMatch(
      /^\[[\d:.]+\] WARN: Redis unreachable; retrying: cannot reach Redis \[REDIS_UNAVAILABLE\] ← connect ECONNREFUSED 127\.0\.0\.1:6390 \{"event":"beat\.redis\.error"\}$/,
    );
  });
});
