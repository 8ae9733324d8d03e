import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ExecutionError } from 'redlock';
import { BeatError, ErrorCode } from '../../src/base/errors.js';
import { createLogger } from '../../src/base/log.js';
import { OUTAGES, Outages, unreachableReason } from '../../src/base/outages.js';

/** A logger at debug level writing JSON lines into an array. */
function recorded() {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  let pending = '';
  stream.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let nl = pending.indexOf('\n');
    while (nl !== -1) {
      lines.push(JSON.parse(pending.slice(0, nl)) as Record<string, unknown>);
      pending = pending.slice(nl + 1);
      nl = pending.indexOf('\n');
    }
  });
  return { lines, logger: createLogger({ level: 'debug', destination: stream }) };
}

const flushed = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6391'), { code: 'ECONNREFUSED' });

describe('unreachableReason: errors that only say the server was not reached', () => {
  it('names socket errors in words, through wrappers and AggregateErrors', () => {
    expect(unreachableReason(refused)).toBe('connection refused');
    expect(unreachableReason(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe('connection reset');
    expect(unreachableReason(new BeatError(ErrorCode.BrokerPublish, 'cannot publish', { cause: refused }))).toBe('connection refused');
    expect(unreachableReason(new AggregateError([new Error('x'), refused], ''))).toBe('connection refused');
  });

  it("takes ioredis's offline and retry messages and redlock's quorum failure for 'not connected'", () => {
    expect(unreachableReason(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe('not connected');
    expect(unreachableReason(new Error('Reached the max retries per request limit (which is 1).'))).toBe('not connected');
    expect(unreachableReason(new Error('Connection is closed.'))).toBe('not connected');
    expect(unreachableReason(new ExecutionError('The operation was unable to achieve a quorum during its retry window.', []))).toBe(
      'not connected',
    );
  });

  it('leaves every other failure alone: a refusal, a wrong type, a script error', () => {
    expect(unreachableReason(new Error('WRONGPASS invalid username-password pair'))).toBeUndefined();
    expect(unreachableReason(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBeUndefined();
    expect(unreachableReason(new Error('ERR user_script:1: bad argument'))).toBeUndefined();
    expect(unreachableReason('ECONNREFUSED')).toBeUndefined();
    expect(unreachableReason(undefined)).toBeUndefined();
  });
});

describe('Outages: one line when a server goes, one when it is back', () => {
  it('opens once for all the connections to a server, naming what waits, and closes when the last is back, with its length', async () => {
    let now = 1_000_000;
    const outages = new Outages(() => now);
    const { lines, logger } = recorded();
    for (const role of ['state', 'subscriber', 'publishing']) outages.register('redis://127.0.0.1:6391/0', role);
    outages.lost('redis://127.0.0.1:6391/0', 'state', 'connection refused', 5000, logger);
    outages.lost('redis://127.0.0.1:6391/0', 'subscriber', 'connection refused', 5000, logger);
    outages.lost('redis://127.0.0.1:6391/0', 'publishing', 'not connected', 5000, logger);
    expect(outages.isDown('redis://127.0.0.1:6391/0')).toBe(true);
    now += 12_500;
    outages.found('redis://127.0.0.1:6391/0', 'state', logger);
    outages.found('redis://127.0.0.1:6391/0', 'publishing', logger);
    expect(outages.any()).toBe(true);
    outages.found('redis://127.0.0.1:6391/0', 'subscriber', logger);
    expect(outages.any()).toBe(false);
    outages.found('redis://127.0.0.1:6391/0', 'subscriber', logger); // no outage open: nothing
    await flushed();
    expect(lines.map((l) => [l['level'], l['event']])).toEqual([
      ['warn', 'beat.redis.down'],
      ['info', 'beat.redis.up'],
    ]);
    expect(lines[0]).toMatchObject({
      reason: 'connection refused',
      waiting: ['control requests', 'publishing', 'the lock and the schedule state'],
      msg: "Redis redis://127.0.0.1:6391/0 is unreachable (connection refused): control requests, publishing, the lock and the schedule state wait for it; reconnecting every 5 s at most. Runs due meanwhile are published when it is back, as each entry's catchUp says",
    });
    expect(lines[1]).toMatchObject({ outageMs: 12_500, msg: 'Redis redis://127.0.0.1:6391/0 is reachable again after 12.5 s' });
  });

  it("while an outage is open, a warning whose error only says 'not reached' is a debug line; other warnings stay", async () => {
    const { lines, logger } = recorded();
    logger.warn({ event: 'beat.lock.renew_failed', err: refused }, 'before the outage: a warning');
    OUTAGES.lost('redis://127.0.0.1:1/0', 'test', 'connection refused', 5000, logger);
    try {
      logger.warn(
        { event: 'beat.lock.renew_failed', err: new Error('The operation was unable to achieve a quorum') },
        'lock renewal failed',
      );
      logger.error(
        { event: 'beat.publish.retry', err: new BeatError(ErrorCode.BrokerPublish, 'cannot publish', { cause: refused }) },
        'retrying',
      );
      logger.warn({ event: 'beat.redis.refused', err: new Error('WRONGPASS invalid username-password pair') }, 'refused');
      logger.warn({ event: 'beat.lock.lost' }, 'stopped leading');
    } finally {
      OUTAGES.found('redis://127.0.0.1:1/0', 'test', logger);
    }
    logger.warn({ event: 'beat.lock.renew_failed', err: refused }, 'after the outage: a warning again');
    await flushed();
    expect(lines.map((l) => [l['level'], l['event']])).toEqual([
      ['warn', 'beat.lock.renew_failed'],
      ['warn', 'beat.redis.down'],
      ['debug', 'beat.lock.renew_failed'],
      ['debug', 'beat.publish.retry'],
      ['warn', 'beat.redis.refused'],
      ['warn', 'beat.lock.lost'],
      ['info', 'beat.redis.up'],
      ['warn', 'beat.lock.renew_failed'],
    ]);
  });
});
