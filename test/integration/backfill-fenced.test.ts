/**
 * backfill-fenced.lua's contract (its header), called as the Redis dispatcher calls it, on a private
 * Redis: each slot's code against the entry's stored slot and its record of published slots (which
 * publish-fenced.lua writes for scheduled runs), the record's bound, and the whole-step answers
 * (withdrawn, fenced, superseded, refused), each leaving nothing half-written.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/base/defaults.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { withScripts } from '../../src/redis/scripts.js';
import { startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const keys = schedulerKeys('tsbeat', 'bf');
const TOKEN = 'leader-token';
const REQUEST = '{"id":"r1"}';
const QUEUE = 'celery';
const T = 1_763_000_000_000;
const M = 60_000;

let server: PrivateRedis;
let redis: Redis;

interface StepOptions {
  readonly entry?: string;
  readonly keep?: number;
  readonly force?: boolean;
  readonly last?: boolean;
  readonly revision?: string;
  readonly queue?: string;
}

function step(slots: readonly number[], o: StepOptions = {}): Promise<unknown[]> {
  const entry = o.entry ?? 'e';
  const k = [
    keys.fence,
    keys.state,
    keys.entries,
    keys.publishedSince,
    keys.published(entry),
    keys.backfills,
    keys.backfill('r1'),
    o.queue ?? QUEUE,
  ];
  const argv = [TOKEN, String(T), REQUEST, entry, o.revision ?? '', String(o.keep ?? DEFAULTS.publishedSlotsKept), o.force ? '1' : ''];
  argv.push(o.last === false ? '' : '1', '0', String(slots[slots.length - 1] ?? 0), String(slots.length), String(slots.length));
  for (const slot of slots) argv.push(String(slot), '1', '0', '8', `${entry}@${slot}`);
  return withScripts(redis).backfillFenced(k.length, ...k, ...argv);
}

/** publish-fenced.lua for scheduled runs of one entry, as the dispatcher calls it. */
function publishScheduled(entry: string, slots: readonly number[]): Promise<number[]> {
  const n = slots.length;
  const argv = [TOKEN, String(DEFAULTS.maxClockSkewMs), String(n), ...slots.map(() => entry), ...slots.map(String)];
  argv.push(...slots.map((s) => `{"slot":${s},"at":${T},"id":"id-${s}","n":`), ...slots.map(() => ''));
  argv.push('1', 'list', '5', slots.map((_, i) => i + 1).join(' '), String(n), ...slots.map((s) => `${entry}@${s}`));
  argv.push(keys.published(''), String(DEFAULTS.publishedSlotsKept));
  return withScripts(redis).publishFenced(5, keys.fence, keys.state, keys.entries, keys.publishedSince, QUEUE, ...argv);
}

const queued = async (): Promise<string[]> => (await redis.lrange(QUEUE, 0, -1)).reverse();
const progress = async (): Promise<Record<string, string>> => redis.hgetall(keys.backfill('r1'));

describe('backfill-fenced.lua', () => {
  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = server.client(0);
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });
  beforeEach(async () => {
    await redis.flushdb();
    await redis.set(keys.fence, TOKEN);
    await redis.rpush(keys.backfills, REQUEST);
  });

  it('skips the slots the schedule published (its record), publishes the others, then the request is done', async () => {
    expect(await publishScheduled('e', [T - 10 * M, T - 5 * M])).toEqual([1, 1, 1]);
    // A brand-new entry's record vouches for every slot before its first.
    expect(await redis.hget(keys.publishedSince, 'e')).toBe('0');
    await redis.del(QUEUE);
    const reply = await step([T - 20 * M, T - 10 * M, T - 7 * M, T - 5 * M, T - 4 * M]);
    // After the stored slot (T - 5 min): the schedule's own.
    expect(reply).toEqual([1, 1, 0, 1, 0, 4]);
    expect(await queued()).toEqual([`e@${T - 20 * M}`, `e@${T - 7 * M}`]);
    expect(await redis.zrange(keys.published('e'), 0, -1)).toEqual([T - 20 * M, T - 10 * M, T - 7 * M, T - 5 * M].map(String));
    expect(await progress()).toMatchObject({ published: '2', recorded: '2', ahead: '1', unrecorded: '0', done: String(T) });
    expect(await redis.llen(keys.backfills)).toBe(0);
    // The entry's state is not moved by a backfill.
    expect(JSON.parse((await redis.hget(keys.state, 'e')) ?? '{}')).toMatchObject({ slot: T - 5 * M, n: 2 });
  });

  it('an entry published before the record existed: nothing at or before its stored slot is vouched for, unless forced', async () => {
    await redis.hset(keys.state, 'old', JSON.stringify({ slot: T - 5 * M, at: T, id: 'x', n: 9 }));
    expect(await step([T - 10 * M, T - 5 * M], { entry: 'old', last: false })).toEqual([1, 5, 5]);
    expect(await queued()).toEqual([]);
    expect(await step([T - 10 * M], { entry: 'old', force: true })).toEqual([1, 1]);
    expect(await queued()).toEqual([`old@${T - 10 * M}`]);
    // What the record vouched for is pinned before the forced slot goes in below it: still nothing up to the stored slot.
    expect(await redis.hget(keys.publishedSince, 'old')).toBe(String(T - 5 * M + 1));
    await redis.rpush(keys.backfills, REQUEST);
    expect(await step([T - 10 * M, T - 9 * M], { entry: 'old', force: true })).toEqual([1, 0, 1]);
  });

  it("an entry that never published: slots before its first sighting can be backfilled, later ones are the schedule's", async () => {
    await redis.hset(keys.state, 'new', JSON.stringify({ seen: T - 3 * M, n: 0 }));
    expect(await step([T - 4 * M, T - 3 * M, T - 2 * M], { entry: 'new' })).toEqual([1, 1, 4, 4]);
    await redis.rpush(keys.backfills, REQUEST);
    expect(await step([T - 4 * M], { entry: 'none-at-all' })).toEqual([1, 4]);
  });

  it('an entry published before the record existed vouches from its first slot the schedule recorded', async () => {
    await redis.hset(keys.state, 'old', JSON.stringify({ slot: T - 5 * M, at: T, id: 'x', n: 9 }));
    expect(await publishScheduled('old', [T - 4 * M, T - 3 * M])).toEqual([1, 1, 1]);
    expect(await redis.hget(keys.publishedSince, 'old')).toBeNull();
    await redis.del(QUEUE);
    expect(await step([T - 5 * M, T - 4 * M, T - 3 * M], { entry: 'old' })).toEqual([1, 5, 0, 0]);
  });

  it('the schedule trims its record once per 100 runs, to the newest kept', async () => {
    const slots = Array.from({ length: 150 }, (_, i) => T - (200 - i) * M);
    expect((await publishScheduled('busy', slots.slice(0, 99))).slice(1).every((c) => c === 1)).toBe(true);
    expect(await redis.zcard(keys.published('busy'))).toBe(99);
    // The 100th run crosses a multiple of 100: cut to the newest 10,000 (all of these).
    expect((await publishScheduled('busy', slots.slice(99))).slice(1).every((c) => c === 1)).toBe(true);
    expect(await redis.zcard(keys.published('busy'))).toBe(150);
  });

  it('keeps the newest slots only, and vouches from the oldest kept', async () => {
    await redis.hset(keys.state, 'e', JSON.stringify({ seen: T, n: 0 }));
    expect(await step([T - 5 * M, T - 4 * M, T - 3 * M, T - 2 * M], { keep: 3, last: false })).toEqual([1, 1, 1, 1, 1]);
    expect(await redis.zcard(keys.published('e'))).toBe(3);
    expect(await redis.hget(keys.publishedSince, 'e')).toBe(String(T - 4 * M));
    expect(await step([T - 5 * M, T - 4 * M], { keep: 3 })).toEqual([1, 5, 0]);
    expect(await redis.llen(QUEUE)).toBe(4);
  });

  it('withdrawn, fenced, superseded: nothing written; a queue key of another type: refused, the request removed', async () => {
    await redis.hset(keys.state, 'e', JSON.stringify({ seen: T, n: 0 }));
    await redis.del(keys.backfills);
    expect(await step([T - M])).toEqual([0]);
    await redis.rpush(keys.backfills, REQUEST);
    await redis.set(keys.fence, 'someone-else');
    expect(await step([T - M])).toEqual([-1]);
    await redis.set(keys.fence, TOKEN);
    await redis.hset(keys.entries, 'e', '{"v":7,"i":7,"created":1,"updated":1,"entry":{}}');
    expect(await step([T - M], { revision: '6' })).toEqual([2]);
    expect(await step([T - M], { revision: '7', last: false })).toEqual([1, 1]);
    await redis.hset('not-a-queue', 'x', '1');
    expect(await step([T - 2 * M], { revision: '7', queue: 'not-a-queue' })).toEqual([3, 'not-a-queue', 'hash']);
    expect(await redis.llen(keys.backfills)).toBe(0);
    expect(await progress()).toMatchObject({ error: 'not-a-queue hash' });
    expect(await queued()).toEqual([`e@${T - M}`]);
    expect(await redis.zrange(keys.published('e'), 0, -1)).toEqual([String(T - M)]);
  });
});
