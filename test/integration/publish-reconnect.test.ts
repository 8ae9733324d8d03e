/**
 * A leader whose publish failed because Redis went away tries again as soon as Redis is back, not
 * a backoff (publishRetryMs) later. A real `beat run` reaches a private redis-server (broker, state
 * and lock) through a loopback proxy (test/support/tcp-proxy.ts) that closes every connection and
 * refuses new ones across a slot, three times: the publish of that slot fails (`beat.publish.retry`);
 * once the proxy lets connections through, the connection's return wakes the loop
 * (`beat.publish.resume`) and the slots missed are published then, before any later backoff could
 * have. The lock's TTL outlasts each outage, so the same leader goes on: it is the backoff that is
 * cut short, not a new leader's start. Oracle: the queue, every slot once.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/base/defaults.js';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, TempDir, sleep } from '../support/beat-process.js';
import type { LogLine } from '../support/beat-process.js';
import { checkSlots, readQueue } from '../support/beat-queue.js';
import { startPrivateRedis, uniqueName } from '../support/ops.js';
import { freePort } from '../support/redis-server.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const S = 1000;

describe('a publish that failed with Redis gone', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let proxy: TcpProxy;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
    proxy = new TcpProxy(await freePort(), server.port);
    await proxy.start();
  });

  afterAll(async () => {
    await fleet.killAll();
    await proxy?.stop();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it('is tried again as soon as Redis is back (beat.publish.resume), not a backoff later, by the same leader, every slot once', async () => {
    const name = uniqueName('reconnect');
    const queue = `${name}-q`;
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: `redis://127.0.0.1:${proxy.port}/0` },
      // Longer than an outage here: the leader keeps the lock through each.
      lock: { ttl: '20s', renewEvery: '1s', retryEvery: '200ms' },
      beatSchedule: { tick: { task: 'tsbeat_test.record', schedule: 1, catchUp: 'all', options: { queue } } },
    });
    const beat = fleet.spawn({ config: file, args: ['--log-level', 'debug'] });
    await beat.waitForEvent(EVENTS.fire, 20_000);
    const timeOf = (line: LogLine): number => Date.parse(String(line['time']));
    const rounds: string[] = [];
    for (let round = 0; round < 3; round += 1) {
      // Halfway between two slots, so that the next one is published while Redis is gone.
      const fired = await beat.waitForEvent(EVENTS.fire, 5_000, beat.logs.length);
      await sleep(Math.max(0, timeOf(fired) + S / 2 - Date.now()));
      const mark = beat.logs.length;
      proxy.refuse(true);
      proxy.cut();
      // (At debug level: during an outage its repeats would drown the log.)
      const failed = await beat.waitForEvent(EVENTS.publishRetry, 5_000, mark);
      proxy.refuse(false);
      const next = await beat.waitForEvent(EVENTS.fire, 10_000, mark);
      const at = beat.logs.indexOf(next);
      // The slot that failed is published first, as soon as the broker's connection is back: a
      // wake-up that was backing off is woken by it (beat.publish.resume), one already running
      // goes on on it; never one left to sleep out the rest of its backoff.
      expect(Date.parse(String(next['slot'])), beat.tail()).toBeLessThan(timeOf(failed));
      const back = beat.logs.slice(mark, at).filter((l) => l.event === EVENTS.brokerConnect);
      expect(back.length, beat.tail(40)).toBeGreaterThan(0);
      const gapMs = timeOf(next) - timeOf(back.at(-1) as LogLine);
      expect(gapMs, beat.tail(40)).toBeLessThan(DEFAULTS.publishRetryMs / 4);
      rounds.push(`${gapMs} ms${beat.logs.slice(mark, at).some((l) => l.event === EVENTS.publishResume) ? ' (resumed)' : ''}`);
    }
    console.log(`publish-reconnect: from the broker's reconnect to the failed slot's publish: ${rounds.join(', ')}`);
    // The reconnect woke the loop (a round may be won by the backoff's own timer, not all three).
    expect(beat.events(EVENTS.publishResume).length, rounds.join(', ')).toBeGreaterThan(0);
    expect(beat.events(EVENTS.lockLost)).toEqual([]);
    beat.signal('SIGTERM');
    expect(await beat.waitForExit(15_000)).toEqual({ code: 0, signal: null });
    const report = checkSlots('tick', await readQueue(redis, queue), S, name);
    expect(report).toMatchObject({ duplicateSlots: [], duplicateIds: [], missingSlots: [], offGrid: [], wrongIds: [] });
  }, 90_000);
});
