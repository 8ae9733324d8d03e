/**
 * The state store on the shared Redis (DB 11, this file's only DB): first sightings are recorded
 * once, by the first writer, in chunks of record-seen.lua calls; existing states are read back.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { schedulerKeys } from '../../src/redis/keys.js';
import { RedisStateStore, STATE_SCAN_COUNT, STATE_SEEN_CHUNK } from '../../src/redis/state-store.js';

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
    const names = Array.from({ length: STATE_SEEN_CHUNK * 2 + 7 }, (_, i) => `e${i}`);
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

  it("hands back a newer incarnation's state to a stale read (issue 66: not taken for a state Redis lost), and replaces an older one's", async () => {
    const newer = JSON.stringify({ slot: T - 1000, at: T - 990, id: 'y', n: 2, g: 'd9' });
    await redis.hset(keys.state, 'reborn', newer, 'old', JSON.stringify({ slot: T - 5000, n: 7, g: 'd1' }));
    const states = await new RedisStateStore(redis, keys).load(
      ['reborn', 'old'],
      T,
      new Map([
        ['reborn', '@d3'],
        ['old', '@d3'],
      ]),
    );
    // Row 3 was deleted and created again as row 9 since this read: the state is 9's, kept as stored.
    expect(states.get('reborn')).toEqual({ slotMs: T - 1000, publishedAtMs: T - 990, lastTaskId: 'y', runCount: 2, incarnation: 'd9' });
    expect(await redis.hget(keys.state, 'reborn')).toBe(newer);
    // Row 1 was deleted and row 3 is its successor: 3 starts afresh.
    expect(states.get('old')).toEqual({ seenMs: T, runCount: 0, incarnation: 'd3' });
  });

  it('reads the whole hash in HSCAN chunks: every state once, the resumed instants applied, an unreadable one reported', async () => {
    const n = STATE_SCAN_COUNT * 2 + 7;
    for (let from = 0; from < n; from += 5000) {
      const fields: string[] = [];
      for (let i = from; i < Math.min(n, from + 5000); i += 1)
        fields.push(`e${i}`, JSON.stringify({ slot: T + i, at: T + i + 5, id: `id${i}`, n: i + 1 }));
      await redis.hset(keys.state, ...fields);
    }
    await redis.hset(keys.state, 'broken', '{"slot":');
    await redis.hset(keys.resumed, 'e5', String(T + 99));
    const unreadable: string[] = [];
    const all = await new RedisStateStore(redis, keys, ({ field }) => unreadable.push(field)).readAll();
    expect(all.size).toBe(n);
    for (let i = 0; i < n; i += 1) expect(all.get(`e${i}`)?.slotMs).toBe(T + i);
    expect(all.get('e7')).toEqual({ slotMs: T + 7, publishedAtMs: T + 12, lastTaskId: 'id7', runCount: 8 });
    expect(all.get('e5')?.resumedAtMs).toBe(T + 99);
    expect(unreadable).toEqual(['broken']);
    // load() of more names than it reads by name goes through the same read.
    const loaded = await new RedisStateStore(redis, keys).load(
      ['e0', `e${n - 1}`, ...Array.from({ length: 1000 }, (_, i) => `new${i}`)],
      T,
    );
    expect(loaded.get(`e${n - 1}`)?.slotMs).toBe(T + n - 1);
    expect(loaded.get('new0')).toEqual({ seenMs: T, runCount: 0 });
  });
});
