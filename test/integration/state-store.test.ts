/**
 * The state store on the shared Redis (DB 11, this file's only DB): first sightings are recorded
 * once, by the first writer, in chunks of record-seen.lua calls; existing states are read back.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/base/defaults.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { RedisStateStore } from '../../src/redis/state-store.js';

const redis = new Redis('redis://127.0.0.1:6379/11');
const keys = schedulerKeys('tsbeat', 'state-test');
const T = 1_795_243_280_537;

beforeEach(async () => {
  await redis.flushdb();
});

afterAll(async () => {
  await redis.flushdb();
  redis.disconnect();
});

describe('RedisStateStore.load', () => {
  it('records first sightings across several script chunks, keeps stored states, and the first writer wins', async () => {
    const names = Array.from({ length: DEFAULTS.stateSeenChunk * 2 + 7 }, (_, i) => `e${i}`);
    await redis.hset(keys.state, 'e3', JSON.stringify({ slot: T - 1000, at: T - 990, id: 'x', n: 4 }));
    const store = new RedisStateStore(redis, keys);
    const first = await store.load(names, T);
    expect(first.size).toBe(names.length);
    expect(first.get('e3')).toEqual({ slotMs: T - 1000, publishedAtMs: T - 990, lastTaskId: 'x', runCount: 4 });
    expect(first.get('e0')).toEqual({ seenMs: T, runCount: 0 });
    expect(first.get(`e${names.length - 1}`)).toEqual({ seenMs: T, runCount: 0 });
    expect(await redis.hlen(keys.state)).toBe(names.length);

    // Another replica starting later reads the first sightings instead of writing its own.
    const later = await new RedisStateStore(redis, keys).load([...names, 'new'], T + 60_000);
    expect(later.get('e0')).toEqual({ seenMs: T, runCount: 0 });
    expect(later.get('new')).toEqual({ seenMs: T + 60_000, runCount: 0 });
  });
});
