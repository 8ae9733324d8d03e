import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { PassThrough } from 'node:stream';
import { Cluster, Redis } from 'ioredis';
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

/** `server` listening on a loopback port. */
function listening(server: Server): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port })));
}

/** A loopback port that nothing listens on. */
async function closedPort(): Promise<number> {
  const { server, port } = await listening(createServer());
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * What an ioredis Cluster client's SET rejects with when the one node of its slot map (a loopback
 * server speaking just enough RESP 2) answers SET with `reply` (a Redis error line), any other command OK.
 */
async function clusterWriteFailure(reply: (port: number) => string): Promise<Error> {
  const { server, port } = await listening(
    createServer((socket) => {
      socket.on('data', (data: Buffer) => {
        for (const command of data.toString().split(/(?=\*\d+\r\n\$)/)) {
          if (/SLOTS/i.test(command)) socket.write(`*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:${port}\r\n`);
          else if (/^\*3\r\n\$3\r\nSET\r\n/i.test(command)) socket.write(`${reply(port)}\r\n`);
          else socket.write('+OK\r\n');
        }
      });
    }),
  );
  const cluster = new Cluster([{ host: '127.0.0.1', port }], {
    maxRedirections: 3,
    retryDelayOnClusterDown: 10,
    retryDelayOnTryAgain: 10,
    enableReadyCheck: false,
    redisOptions: { protocol: 2 },
  });
  cluster.on('error', () => undefined);
  try {
    await cluster.set('k', 'v');
    throw new Error('the write succeeded');
  } catch (error) {
    return error as Error;
  } finally {
    cluster.disconnect();
    server.close();
  }
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

  it('takes what the ioredis Cluster client raises while a slot master fails over (its redirections spent, no node answering) for unreachable', async () => {
    // The errors as ioredis 6 raises them: its Cluster client on a loopback node that answers every
    // command with one reply (retried up to maxRedirections, then "Too many Cluster redirections").
    for (const [reply, last] of [
      [(port: number) => `-MOVED 12 127.0.0.1:${port}`, /MOVED/],
      [(port: number) => `-ASK 12 127.0.0.1:${port}`, /ASK/],
      [() => '-TRYAGAIN Multiple keys request during rehashing of slot', /TRYAGAIN/],
      [() => '-CLUSTERDOWN The cluster is down', /CLUSTERDOWN/],
    ] as const) {
      const error = await clusterWriteFailure(reply);
      expect(error.message).toMatch(/^Too many Cluster redirections\. Last error: ReplyError: /);
      expect(error.message).toMatch(last);
      expect(unreachableReason(error)).toBe("the cluster slot's master failing over");
    }
    // Its slot map unreadable (no node answers CLUSTER SLOTS), and the server's replies as they come.
    const port = await closedPort();
    const cluster = new Cluster([{ host: '127.0.0.1', port }], { lazyConnect: true, clusterRetryStrategy: () => null });
    const failures: Error[] = [];
    cluster.on('error', (e: Error) => failures.push(e));
    await expect(cluster.connect()).rejects.toThrow(/None of startup nodes is available/);
    expect(failures.map((e) => e.message)).toContain('Failed to refresh slots cache.');
    for (const e of [...failures, new Error('None of startup nodes is available')])
      expect(unreachableReason(e), e.message).toBe('no cluster node answering');
    expect(unreachableReason(new Error('CLUSTERDOWN Hash slot not served'))).toBe("the cluster slot's master failing over");
    expect(unreachableReason(new Error('CLUSTERDOWN The cluster is down'))).toBe("the cluster slot's master failing over");
    // The words elsewhere (an entry of that name) say nothing of the server.
    expect(unreachableReason(new Error('entry "TRYAGAIN" has no task'))).toBeUndefined();
  });

  it('takes a hung server (it accepts the connection and never answers: SIGSTOPped) for unreachable once socketTimeout passes', async () => {
    const { server, port } = await listening(createServer(() => undefined));
    const client = new Redis({
      host: '127.0.0.1',
      port,
      socketTimeout: 100,
      retryStrategy: () => null,
      enableReadyCheck: false,
      lazyConnect: true,
    });
    // It accepts the connection, so ioredis sends its hello and waits: socketTimeout ends the wait.
    client.on('error', () => undefined);
    const first = new Promise<Error>((resolve) => client.once('error', resolve));
    try {
      client.connect().catch(() => undefined);
      const error = await first;
      expect(error.message).toMatch(/^Socket timeout/);
      expect(unreachableReason(error)).toBe('not answering');
    } finally {
      client.disconnect();
      server.close();
    }
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
  it('waits no longer for a connection closed for good: ends when the others are back, or at once and silently when none came back', async () => {
    const outages = new Outages(() => 1_000_000);
    const { lines, logger } = recorded();
    const url = 'redis://127.0.0.1:6392/0';
    outages.lost(url, 'state', 'connection refused', 5000, logger, 'state#1');
    outages.lost(url, 'task events', 'connection refused', 5000, logger, 'task events#2');
    outages.found(url, 'state#1', logger);
    // A leader that stood down meanwhile closes its task events' client: the outage ends with the line.
    expect(outages.isDown(url)).toBe(true);
    outages.gone(url, 'task events#2', logger);
    expect(outages.isDown(url)).toBe(false);
    // Down, and the only connection down closed before any came back: nothing says the server is back.
    outages.lost(url, 'task events', 'connection refused', 5000, logger, 'task events#3');
    outages.gone(url, 'task events#3', logger);
    expect(outages.any()).toBe(false);
    // A connection that was not down changes nothing.
    outages.lost(url, 'state', 'connection refused', 5000, logger, 'state#1');
    outages.gone(url, 'subscriber#4', logger);
    expect(outages.isDown(url)).toBe(true);
    outages.gone(url, 'state#1', logger);
    // One came back and went down again: it no longer shows the server is back.
    outages.lost(url, 'state', 'connection refused', 5000, logger, 'state#1');
    outages.lost(url, 'subscriber', 'connection refused', 5000, logger, 'subscriber#4');
    outages.found(url, 'state#1', logger);
    outages.lost(url, 'state', 'connection refused', 5000, logger, 'state#1');
    outages.gone(url, 'state#1', logger);
    outages.gone(url, 'subscriber#4', logger);
    expect(outages.any()).toBe(false);
    await flushed();
    expect(lines.map((l) => l['event'])).toEqual([
      'beat.redis.down',
      'beat.redis.up',
      'beat.redis.down',
      'beat.redis.down',
      'beat.redis.down',
    ]);
  });

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
