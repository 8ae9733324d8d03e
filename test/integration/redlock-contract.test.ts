/**
 * What src/redis/leadership.ts relies on in redlock, which is pinned at a beta (5.0.0-beta.2,
 * exactly: package.json), against a private Redis. An upgrade that changes any of it fails here
 * before it changes leadership:
 * - acquire sets the key to a random value with the TTL, and refuses a held key with an
 *   ExecutionError whose votes against are ResourceLockedErrors (how a held lock is told from an
 *   unreachable Redis);
 * - a Lock made with its public constructor is extended by `redlock.extend` as the one acquire
 *   returned: the TTL moved, the value kept; extend refuses, without a write, a Lock dated
 *   (`expiration`, the wall clock) in the past, and one whose key holds another value;
 * - release deletes the key only while it holds the lock's value.
 * All of it both over one server's client and over an ioredis Cluster client (a `redis-cluster://`
 * state: a private cluster of 3 masters), whose EVALSHA goes to the master of the key's slot.
 */
import { Redis } from 'ioredis';
import type { Cluster } from 'ioredis';
import Redlock, { ExecutionError, Lock, ResourceLockedError } from 'redlock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateRedisCluster } from '../support/redis-cluster.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';

const KEY = 'contract:lock';

interface Target {
  readonly client: Redis | Cluster;
  stop(): Promise<void>;
}

const TARGETS: readonly (readonly [string, () => Promise<Target>])[] = [
  [
    'one Redis server',
    async () => {
      const server = new PrivateRedis(await freePort());
      await server.start();
      const client = new Redis(server.url(0));
      return { client, stop: async () => (await client.quit(), await server.stop()) };
    },
  ],
  [
    'a Redis Cluster (an ioredis Cluster client)',
    async () => {
      const cluster = new PrivateRedisCluster(3, 0);
      await cluster.start();
      const client = cluster.client();
      await client.connect();
      return { client, stop: async () => (await client.quit(), await cluster.stop()) };
    },
  ],
];

/** The votes against of a refusal, as leadership's isHeldElsewhere reads them. */
async function votesAgainst(error: unknown): Promise<Error[]> {
  expect(error).toBeInstanceOf(ExecutionError);
  const stats = await Promise.all((error as ExecutionError).attempts);
  return stats.flatMap((s) => [...s.votesAgainst.values()]);
}

describe.each(TARGETS)('redlock, as leadership uses it, over %s', (_, start) => {
  let target: Target;
  let redis: Redis | Cluster;
  let redlock: Redlock;

  beforeAll(async () => {
    target = await start();
    redis = target.client;
    redlock = new Redlock([redis], { retryCount: 0, driftFactor: 0.01 });
    redlock.on('error', () => undefined);
  }, 60_000);

  afterAll(async () => {
    await target?.stop();
  });

  it('acquires with the TTL, refuses a held key with ResourceLockedError votes, releases only its own value', async () => {
    await redis.del(KEY);
    const lock = await redlock.acquire([KEY], 10_000);
    expect(typeof lock.value).toBe('string');
    expect(await redis.get(KEY)).toBe(lock.value);
    expect(await redis.pttl(KEY)).toBeGreaterThan(9_000);
    const refusal = await redlock.acquire([KEY], 10_000).catch((error: unknown) => error);
    const votes = await votesAgainst(refusal);
    expect(votes.length).toBeGreaterThan(0);
    expect(votes.every((vote) => vote instanceof ResourceLockedError)).toBe(true);
    // Another value in the key (a lock that expired and was taken by another instance): release leaves it.
    await redis.set(KEY, 'someone-else');
    await lock.release().catch(() => undefined);
    expect(await redis.get(KEY)).toBe('someone-else');
    await redis.set(KEY, lock.value);
    await lock.release();
    expect(await redis.exists(KEY)).toBe(0);
  });

  it('extends a Lock made with its public constructor, dated by its caller; refuses one dated in the past without a write', async () => {
    await redis.del(KEY);
    const acquired = await redlock.acquire([KEY], 5_000);
    const { resources, value, attempts } = acquired;
    // Dated in the past, whatever the key holds: refused before anything is sent.
    const past = new Lock(redlock, resources, value, attempts, Date.now() - 1);
    const stale = await redlock.extend(past, 60_000).catch((error: unknown) => error);
    expect(stale).toBeInstanceOf(ExecutionError);
    expect(await redis.pttl(KEY)).toBeLessThanOrEqual(5_000);
    // Dated ahead: the key's TTL is moved, the value kept, and what comes back is a lock like acquire's.
    const current = new Lock(redlock, resources, value, attempts, Date.now() + 1_000);
    const extended = await redlock.extend(current, 60_000);
    expect(await redis.pttl(KEY)).toBeGreaterThan(55_000);
    expect(extended).toBeInstanceOf(Lock);
    expect(extended.value).toBe(value);
    expect(extended.resources).toEqual(resources);
    // The key taken by another value: refused with ResourceLockedError votes, the other value kept.
    await redis.set(KEY, 'someone-else', 'PX', 5_000);
    const lost = await redlock
      .extend(new Lock(redlock, resources, value, attempts, Date.now() + 1_000), 60_000)
      .catch((error: unknown) => error);
    const votes = await votesAgainst(lost);
    expect(votes.every((vote) => vote instanceof ResourceLockedError)).toBe(true);
    expect(await redis.get(KEY)).toBe('someone-else');
    expect(await redis.pttl(KEY)).toBeLessThanOrEqual(5_000);
  });
});
