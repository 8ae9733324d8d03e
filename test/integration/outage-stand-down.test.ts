/**
 * A leader that stands down while Redis is away closes the connections only a leader keeps (its
 * task events' subscriber) while they are down. The outage must not wait for them: once the
 * connections it keeps are back, it says so (`beat.redis.up`), and a later outage is warned of
 * again. A real `beat run` reaches a private redis-server through a loopback proxy
 * (test/support/tcp-proxy.ts) that refuses every connection for longer than the lock's TTL; meanwhile
 * the test holds the lock under another token, so that the replica stays a standby when Redis is back.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir } from '../support/beat-process.js';
import { startPrivateRedis, uniqueName } from '../support/ops.js';
import { freePort } from '../support/redis-server.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { TcpProxy } from '../support/tcp-proxy.js';

describe('an outage across which the leader stood down', () => {
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

  it('ends when the connections a standby keeps are back (beat.redis.up), and the next outage is warned of again', async () => {
    const name = uniqueName('stand-down');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: `redis://127.0.0.1:${proxy.port}/0` },
      lock: FAST_LOCK,
      beatSchedule: { tick: { task: 'tsbeat_test.record', schedule: 1 } },
    });
    const beat = fleet.spawn({ config: file, args: ['--log-level', 'debug'] });
    await beat.waitForEvent(EVENTS.taskEventsListening, 20_000);
    const mark = beat.logs.length;
    proxy.refuse(true);
    proxy.cut();
    await beat.waitForEvent(EVENTS.redisDown, 5_000, mark);
    // The lease lapses (FAST_LOCK: 2 s): the leader stands down, closing its task events' connection while it is down.
    await beat.waitForEvent(EVENTS.lockLost, 10_000, mark);
    // Another holder's lock, so that it stays a standby once Redis is back.
    await redis.set(schedulerKeys('tsbeat', name).lock, 'another-replica', 'PX', 60_000);
    proxy.refuse(false);
    await beat.waitForEvent(EVENTS.standby, 10_000, mark);
    const up = await beat.waitForEvent(EVENTS.redisUp, 10_000, mark);
    expect(
      beat.logs.slice(mark).filter((l) => l.event === EVENTS.lockAcquired),
      beat.tail(40),
    ).toEqual([]);
    // The outage is closed: the next one is warned of again.
    const again = beat.logs.indexOf(up) + 1;
    proxy.refuse(true);
    proxy.cut();
    await beat.waitForEvent(EVENTS.redisDown, 5_000, again);
    proxy.refuse(false);
    await beat.waitForEvent(EVENTS.redisUp, 10_000, again);
    beat.signal('SIGTERM');
    expect(await beat.waitForExit(15_000)).toEqual({ code: 0, signal: null });
  }, 90_000);
});
