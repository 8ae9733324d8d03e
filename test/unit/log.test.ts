import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { LineBatcher } from '../../src/log.js';

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
    const lines = (writes[0] as string).trimEnd().split('\n').map((line) => JSON.parse(line) as { i: number; event: string });
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
