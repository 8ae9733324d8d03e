/**
 * Cut-over adoption on a real Redis (a private server): seed-state.lua's contract (written where
 * there is no state of the incarnation, replaced only while the stored slot is still what the
 * decision read, tsbeat's `seen` and manual count kept), and seedStates end to end: a newer run by
 * slot wins, the same slot is a no-op, and tsbeat's own run written back changes nothing.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import type { ParsedEntry } from '../../src/config/schema.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { withScripts } from '../../src/redis/scripts.js';
import { seedStates } from '../../src/redis/seed-states.js';
import { startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const keys = schedulerKeys('tsbeat', 'seed-test');
const S = Date.parse('2026-11-25T12:00:00Z');
let server: PrivateRedis;
let redis: Redis;

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = new Redis(server.url(0));
}, 30_000);

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

beforeEach(async () => {
  await redis.flushdb();
});

const seedText = (slot: number, n: number, g: string): string => JSON.stringify({ slot, at: slot, g, n });
const read = async (name: string): Promise<unknown> => JSON.parse((await redis.hget(keys.state, name)) ?? 'null') as unknown;

describe('seed-state.lua', () => {
  it('writes where there is no state of the incarnation, and keeps a newer incarnation and a state with a slot', async () => {
    await redis.hset(keys.state, 'older', JSON.stringify({ slot: S - 99_000, g: 'd3', n: 9 }));
    await redis.hset(keys.state, 'newer', JSON.stringify({ slot: S - 99_000, g: 'd9', n: 9 }));
    await redis.hset(keys.state, 'ran', JSON.stringify({ slot: S - 99_000, g: 'd5', n: 9 }));
    const reply = await withScripts(redis).seedState(
      2,
      keys.state,
      keys.passedSince,
      '4',
      ...['none', seedText(S, 2, 'd5'), 'd5', ''],
      ...['older', seedText(S, 2, 'd5'), 'd5', ''],
      ...['newer', seedText(S, 2, 'd5'), 'd5', ''],
      ...['ran', seedText(S, 2, 'd5'), 'd5', ''],
    );
    expect(reply).toEqual([1, 1, 0, 0]);
    expect(await read('none')).toEqual({ slot: S, at: S, g: 'd5', n: 2 });
    expect(await read('older')).toEqual({ slot: S, at: S, g: 'd5', n: 2 });
    expect(await read('newer')).toEqual({ slot: S - 99_000, g: 'd9', n: 9 });
    expect(await read('ran')).toEqual({ slot: S - 99_000, g: 'd5', n: 9 });
  });

  it("replaces a state of the incarnation only while its slot is at most `replace` and before the seed's, keeping seen and t", async () => {
    await redis.hset(keys.state, 'seen', JSON.stringify({ seen: S - 50_000, g: 'd5', n: 0 }));
    await redis.hset(keys.state, 'same', JSON.stringify({ slot: S - 60_000, seen: S - 500_000, at: S - 59_990, g: 'd5', n: 7, t: 2 }));
    await redis.hset(keys.state, 'moved', JSON.stringify({ slot: S - 1000, at: S - 990, g: 'd5', n: 8 }));
    await redis.hset(keys.state, 'untagged', JSON.stringify({ slot: S - 60_000, n: 4 }));
    await redis.hset(keys.state, 'later', JSON.stringify({ slot: S + 1000, g: 'd5', n: 4 }));
    const reply = await withScripts(redis).seedState(
      2,
      keys.state,
      keys.passedSince,
      '5',
      ...['seen', seedText(S, 3, 'd5'), 'd5', ''],
      ...['same', seedText(S, 3, 'd5'), 'd5', String(S - 60_000)],
      // tsbeat published a run after the decision read S - 60 s: kept.
      ...['moved', seedText(S, 3, 'd5'), 'd5', String(S - 60_000)],
      ...['untagged', seedText(S, 3, 'd5'), 'd5', String(S - 60_000)],
      ...['later', seedText(S, 3, 'd5'), 'd5', String(S + 5000)],
    );
    expect(reply).toEqual([1, 1, 0, 1, 0]);
    expect(await read('seen')).toEqual({ slot: S, seen: S - 50_000, at: S, g: 'd5', n: 3 });
    expect(await read('same')).toEqual({ slot: S, seen: S - 500_000, at: S, g: 'd5', n: 5, t: 2 });
    expect(await read('moved')).toEqual({ slot: S - 1000, at: S - 990, g: 'd5', n: 8 });
    expect(await read('untagged')).toEqual({ slot: S, at: S, g: 'd5', n: 3 });
    expect(await read('later')).toEqual({ slot: S + 1000, g: 'd5', n: 4 });
  });

  it('writes an anchor (a state without a slot) only where there is no state of the incarnation', async () => {
    const anchorText = JSON.stringify({ seen: S, g: 'd5', n: 0 });
    await redis.hset(keys.state, 'seen', JSON.stringify({ seen: S - 50_000, g: 'd5', n: 0 }));
    await redis.hset(keys.state, 'ran', JSON.stringify({ slot: S - 60_000, g: 'd5', n: 4 }));
    await redis.hset(keys.state, 'older', JSON.stringify({ slot: S - 60_000, g: 'd3', n: 4 }));
    const reply = await withScripts(redis).seedState(
      2,
      keys.state,
      keys.passedSince,
      '4',
      ...['none', anchorText, 'd5', ''],
      ...['seen', anchorText, 'd5', ''],
      ...['ran', anchorText, 'd5', String(S - 60_000)],
      ...['older', anchorText, 'd5', ''],
    );
    expect(reply).toEqual([1, 0, 0, 1]);
    expect(await read('none')).toEqual({ seen: S, g: 'd5', n: 0 });
    expect(await read('seen')).toEqual({ seen: S - 50_000, g: 'd5', n: 0 });
    expect(await read('ran')).toEqual({ slot: S - 60_000, g: 'd5', n: 4 });
    expect(await read('older')).toEqual({ seen: S, g: 'd5', n: 0 });
  });

  it('refuses a malformed call before writing anything', async () => {
    const scripts = withScripts(redis);
    await expect(scripts.seedState(2, keys.state, keys.passedSince, '2', 'a', seedText(S, 1, 'd1'), 'd1', '')).rejects.toThrow(
      /quadruples/,
    );
    await expect(
      scripts.seedState(2, keys.state, keys.passedSince, '2', 'a', seedText(S, 1, 'd1'), 'd1', '', 'b', '{"n":-1}', 'd1', ''),
    ).rejects.toThrow(/entry 2 is not a readable state/);
    await expect(scripts.seedState(2, keys.state, keys.passedSince, '1', 'a', seedText(S, 1, 'd1'), 'd1', 'soon')).rejects.toThrow(
      /not a number/,
    );
    expect(await redis.hlen(keys.state)).toBe(0);
    await redis.set('wrong', 'x');
    await expect(scripts.seedState(2, 'wrong', keys.passedSince, '1', 'a', seedText(S, 1, 'd1'), 'd1', '')).rejects.toThrow(/WRONGTYPE/);
    await redis.hset('wrong-since', 'a', '1');
    await expect(scripts.seedState(2, keys.state, 'wrong-since', '1', 'a', seedText(S, 1, 'd1'), 'd1', '')).rejects.toThrow(
      /WRONGTYPE seed-state: wrong-since holds a hash/,
    );
    expect(await redis.hlen(keys.state)).toBe(0);
  });
});

describe('seedStates: whichever last run is newer by slot wins', () => {
  const every10s = (): ParsedEntry => {
    const parsed = parseEntryDefinition({ task: 't', schedule: { timedelta: { seconds: 10 } } });
    if (!parsed.ok) throw new Error('unexpected');
    return parsed.entry;
  };

  it("adopts a newer slot, leaves the same slot and tsbeat's own write-back alone", async () => {
    const mine = JSON.stringify({ slot: S, at: S + 20, id: 'x', g: 'r1', n: 5 });
    for (const name of ['same', 'own', 'newer', 'within']) await redis.hset(keys.state, name, mine);
    const entry = every10s();
    const written = await seedStates(
      redis,
      keys,
      [
        { name: 'same', lastRunMs: S, runCount: 9, incarnation: 'r1', entry },
        // What tsbeat's write-back wrote of its own run: its publish time.
        { name: 'own', lastRunMs: S + 20, runCount: 5, incarnation: 'r1', entry },
        // The other scheduler ran the next slot (S + 10 s) at S + 10.3 s.
        { name: 'newer', lastRunMs: S + 10_300, runCount: 6, incarnation: 'r1', entry },
        // A run within the period after S is of S's slot: no newer slot.
        { name: 'within', lastRunMs: S + 4000, runCount: 6, incarnation: 'r1', entry },
        { name: 'fresh', lastRunMs: S - 3000, runCount: 1, incarnation: 'r1', entry },
        // A django row never run: its date_changed anchors the grid as a first sighting, no slot.
        { name: 'anchored', lastRunMs: S - 7000, runCount: 0, incarnation: 'r1', entry, anchor: true },
        { name: 'same', lastRunMs: S + 5000, runCount: 0, incarnation: 'r1', entry, anchor: true },
      ],
      { zone: 'UTC', deployment: 'default' },
    );
    expect(written).toBe(3);
    expect(await read('anchored')).toEqual({ seen: S - 7000, g: 'r1', n: 0 });
    for (const name of ['same', 'own', 'within']) expect(await redis.hget(keys.state, name)).toBe(mine);
    expect(await read('newer')).toEqual({ slot: S + 10_300, at: S + 10_300, g: 'r1', n: 6 });
    expect(await read('fresh')).toEqual({ slot: S - 3000, at: S - 3000, g: 'r1', n: 1 });
  });
});
