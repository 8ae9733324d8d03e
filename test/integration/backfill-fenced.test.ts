/**
 * The record of passed-over slots and backfill-fenced.lua's contract (their headers), called as the
 * leader calls them, on a private Redis: each slot's code against the entry's stored slot, its first
 * sighting and the ranges record-passed.lua wrote; the record's merge, bound and floor; passed-clip.lua
 * cutting what a new leader may publish into; RedisPassedSlots, which calls them; and the whole-step answers (withdrawn, fenced,
 * superseded, refused), each leaving nothing half-written; the claim and commit of RabbitMQ and SQS
 * (publishConfirmedBackfill, with a broker whose confirms the test scripts). Expectations are worked out by hand
 * from the slots, not read back from the scripts.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/base/defaults.js';
import { createLogger } from '../../src/base/log.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import type { AmqpSendResult } from '../../src/amqp/transport.js';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import type { TaskMessage } from '../../src/celery/message.js';
import { publishConfirmedBackfill } from '../../src/publish/confirmed-backfill.js';
import { RedisPassedSlots } from '../../src/redis/passed-slots-store.js';
import { RedisStateStore } from '../../src/redis/state-store.js';
import { seedStates } from '../../src/redis/seed-states.js';
import { withScripts } from '../../src/redis/scripts.js';
import { ENV, config, entry } from '../support/messages.js';
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
  readonly force?: boolean;
  readonly last?: boolean;
  readonly revision?: string;
  readonly queue?: string;
  /** ARGV[7] 'claim': classify only (the RabbitMQ and SQS path). */
  readonly claim?: boolean;
  /** Slots sent by the caller itself: no push in the step (the commit after a claim). */
  readonly sent?: boolean;
  /** Slots the claim did not code 1: P = -1. */
  readonly held?: readonly number[];
  /** Slots held by the request's overlap policy: P = -2. */
  readonly overlap?: readonly number[];
  /** What follows the slots ('kept'). */
  readonly flags?: string;
}

function step(slots: readonly number[], o: StepOptions = {}): Promise<unknown[]> {
  const entry = o.entry ?? 'e';
  const k = [
    keys.fence,
    keys.state,
    keys.entries,
    keys.passedFloor,
    keys.passed(entry),
    keys.backfills,
    keys.backfill('r1'),
    keys.passedSince,
    keys.stop,
    o.queue ?? QUEUE,
  ];
  const argv = [TOKEN, String(T), REQUEST, entry, o.revision ?? '', o.force ? '1' : ''];
  argv.push(
    o.claim ? 'claim' : o.last === false ? '' : '1',
    '0',
    String(slots[slots.length - 1] ?? 0),
    String(slots.length),
    String(slots.length),
  );
  for (const slot of slots)
    if (o.overlap?.includes(slot)) argv.push(String(slot), '-2', '0');
    else if (o.held?.includes(slot)) argv.push(String(slot), '-1', '0');
    else if (o.claim || o.sent) argv.push(String(slot), '0', '0');
    else argv.push(String(slot), '1', '0', '10', `${entry}@${slot}`);
  if (o.flags !== undefined) argv.push(o.flags);
  return withScripts(redis).backfillFenced(k.length, ...k, ...argv);
}

/** record-passed.lua for reports [entry, first, last, revision?], as redis/passed-slots-store.ts calls it. */
function recordPassed(
  reports: readonly (readonly [string, number, number, string?])[],
  keep: number = DEFAULTS.passedRangesKept,
  token = TOKEN,
) {
  const call = [keys.fence, keys.state, keys.entries, keys.passedFloor, keys.passedOpen, ...reports.map(([e]) => keys.passed(e))];
  call.push(token, String(keep), String(reports.length));
  for (const [e, first, last, revision] of reports) call.push(e, revision ?? '', String(first), String(last));
  return withScripts(redis).recordPassed(5 + reports.length, call);
}

function clip(entries: readonly string[], since: number, token = TOKEN) {
  const call = [
    keys.fence,
    keys.state,
    keys.passedOpen,
    keys.passedSince,
    ...entries.map((e) => keys.passed(e)),
    token,
    String(since),
    ...entries,
  ];
  return withScripts(redis).passedClip(4 + entries.length, call);
}

const state = (entry: string, s: { slot?: number; seen?: number }) => redis.hset(keys.state, entry, JSON.stringify({ ...s, n: 1 }));
const ranges = (entry: string) => redis.zrange(keys.passed(entry), '0', '-1');
const range = (first: number, last: number): string => `${first}:${last}`;
const queued = async (): Promise<string[]> => (await redis.lrange(QUEUE, 0, -1)).reverse();
const progress = async (): Promise<Record<string, string>> => redis.hgetall(keys.backfill('r1'));
const again = () => redis.rpush(keys.backfills, REQUEST);

describe('the record of passed-over slots and backfill-fenced.lua', () => {
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
    await redis.set(keys.passedSince, String(T - 100 * M));
    await redis.rpush(keys.backfills, REQUEST);
  });

  it('claim codes the slots as a step would and writes nothing; the commit records the sent ones, a held slot stays in the record', async () => {
    await state('e', { slot: T - 5 * M, seen: T - 60 * M });
    expect(await recordPassed([['e', T - 9 * M, T - 7 * M]])).toEqual([1, 1]);
    const slots = [T - 70 * M, T - 9 * M, T - 6 * M, T - 4 * M];
    // Before the first sighting (never published), passed over, published by the schedule, the schedule's own.
    expect(await step(slots, { claim: true })).toEqual([1, 1, 1, 0, 4]);
    expect(await ranges('e')).toEqual([range(T - 9 * M, T - 7 * M)]);
    expect(await progress()).toEqual({});
    expect(await redis.hget(keys.passedFloor, 'e')).toBeNull();
    expect(await redis.llen(QUEUE)).toBe(0);
    // Meanwhile the schedule moved on and passed over T - 4 min: held by the commit, it is not taken for published.
    await state('e', { slot: T - 3 * M, seen: T - 60 * M });
    expect(await recordPassed([['e', T - 4 * M, T - 4 * M]])).toEqual([1, 1]);
    expect(await step(slots, { sent: true, held: [T - 6 * M, T - 4 * M], last: false })).toEqual([1, 1, 1, 0, 4]);
    expect(await redis.llen(QUEUE)).toBe(0);
    expect(await ranges('e')).toEqual([
      range(0, T - 70 * M - 1),
      range(T - 70 * M + 1, T - 60 * M - 1),
      range(T - 9 * M + 1, T - 7 * M),
      range(T - 4 * M, T - 4 * M),
    ]);
    expect(await progress()).toMatchObject({ published: '2', recorded: '1', ahead: '1', through: String(T - 4 * M) });
    // A later claim finds the two sent slots published, and T - 4 min still to backfill.
    expect(await step(slots, { claim: true })).toEqual([1, 0, 0, 0, 1]);
  });

  it('a slot held by the overlap policy (P = -2) is counted overlap and stays passed over, for a later backfill to publish', async () => {
    await state('e', { slot: T - 5 * M, seen: T - 60 * M });
    expect(await recordPassed([['e', T - 9 * M, T - 7 * M]])).toEqual([1, 1]);
    // Held: in a passed-over range, before the first sighting (no range written for it), published by the schedule, the schedule's own.
    const held = [T - 8 * M, T - 70 * M, T - 6 * M, T - 4 * M];
    const slots = [T - 70 * M, T - 9 * M, T - 8 * M, T - 6 * M, T - 4 * M];
    expect(await step(slots, { overlap: held, last: false, flags: 'kept' })).toEqual([1, 6, 1, 6, 0, 4]);
    // Only T - 9 min went out; T - 8 min is still in the record, as is the region before the sighting.
    expect(await queued()).toEqual([`e@${T - 9 * M}`]);
    expect(await ranges('e')).toEqual([range(T - 9 * M + 1, T - 7 * M)]);
    expect(await progress()).toMatchObject({ published: '1', overlap: '2', recorded: '1', ahead: '1', kept: '1', last: String(T - 9 * M) });
    // A later step that lets them through publishes both, once.
    expect(await step([T - 70 * M, T - 9 * M, T - 8 * M], { last: false })).toEqual([1, 1, 0, 1]);
    expect(await queued()).toEqual([`e@${T - 9 * M}`, `e@${T - 70 * M}`, `e@${T - 8 * M}`]);
    expect(await progress()).toMatchObject({ published: '3', overlap: '2', last: String(T - 8 * M) });
    // A push count below -2 is refused before anything is written.
    await expect(
      withScripts(redis).backfillFenced(
        9,
        ...[
          keys.fence,
          keys.state,
          keys.entries,
          keys.passedFloor,
          keys.passed('e'),
          keys.backfills,
          keys.backfill('r1'),
          keys.passedSince,
          keys.stop,
        ],
        ...[TOKEN, String(T), REQUEST, 'e', '', '', '', '0', String(T), '1', '1', String(T - 7 * M), '-3', '0'],
      ),
    ).rejects.toThrow(/push count below -2/);
  });

  it('publishes the passed-over slots at or before the stored slot, once; the others were published by the schedule', async () => {
    await state('e', { slot: T - 5 * M, seen: T - 60 * M });
    expect(await recordPassed([['e', T - 9 * M, T - 7 * M]])).toEqual([1, 1]);
    const reply = await step([T - 10 * M, T - 9 * M, T - 8 * M, T - 7 * M, T - 5 * M, T - 4 * M], { last: false });
    // After the stored slot (T - 5 min): the schedule's own.
    expect(reply).toEqual([1, 0, 1, 1, 1, 0, 4]);
    expect(await queued()).toEqual([T - 9 * M, T - 8 * M, T - 7 * M].map((s) => `e@${s}`));
    // Cut out of the record slot by slot: what is left holds no published slot (here: the gaps between minutes).
    expect(await ranges('e')).toEqual([range(T - 9 * M + 1, T - 8 * M - 1), range(T - 8 * M + 1, T - 7 * M - 1)]);
    expect(await progress()).toMatchObject({ published: '3', recorded: '2', ahead: '1', unrecorded: '0' });
    // Repeated: nothing goes out twice.
    expect(await step([T - 10 * M, T - 9 * M, T - 8 * M, T - 7 * M, T - 5 * M, T - 4 * M])).toEqual([1, 0, 0, 0, 0, 0, 4]);
    expect(await redis.llen(QUEUE)).toBe(3);
    expect(await progress()).toMatchObject({ published: '3', recorded: '7', ahead: '2', done: String(T) });
    expect(await redis.llen(keys.backfills)).toBe(0);
    // A backfill moves no schedule.
    expect(JSON.parse((await redis.hget(keys.state, 'e')) ?? '{}')).toMatchObject({ slot: T - 5 * M });
  });

  it('slots before the first sighting were never published: backfilled once each, when the record speaks for them', async () => {
    // Never published: everything before the sighting, nothing from it on (the schedule's own).
    await state('new', { seen: T - 3 * M });
    expect(await step([T - 4 * M, T - 3 * M, T - 2 * M], { entry: 'new', last: false })).toEqual([1, 1, 4, 4]);
    expect(await step([T - 5 * M, T - 4 * M], { entry: 'new', last: false })).toEqual([1, 1, 0]);
    expect(await redis.hget(keys.passedFloor, 'new')).toBe('0');
    // Published since, first seen after passed-since: the same before the sighting, the record from it on.
    await state('seen-late', { slot: T - M, seen: T - 3 * M });
    expect(await step([T - 5 * M, T - 3 * M, T - 2 * M], { entry: 'seen-late', last: false })).toEqual([1, 1, 0, 0]);
    expect(await step([T - 5 * M], { entry: 'seen-late', last: false })).toEqual([1, 0]);
    // No state at all: nothing is known to have run, and nothing is the backfill's.
    expect(await step([T - 4 * M], { entry: 'none-at-all' })).toEqual([1, 4]);
    expect(await queued()).toEqual([`new@${T - 4 * M}`, `new@${T - 5 * M}`, `seen-late@${T - 5 * M}`]);
  });

  it('before passed-since (or without it) the record says nothing: unrecorded, unless forced', async () => {
    await redis.set(keys.passedSince, String(T - 6 * M));
    // First seen before passed-since: its sighting vouches for nothing either.
    await state('old', { slot: T - M, seen: T - 100 * M });
    expect(await step([T - 200 * M, T - 8 * M, T - 6 * M], { entry: 'old', last: false })).toEqual([1, 5, 5, 0]);
    expect(await queued()).toEqual([]);
    expect(await step([T - 8 * M], { entry: 'old', force: true, last: false })).toEqual([1, 1]);
    expect(await queued()).toEqual([`old@${T - 8 * M}`]);
    await redis.del(keys.passedSince);
    expect(await step([T - 2 * M], { entry: 'old', last: false })).toEqual([1, 5]);
  });

  it('record-passed merges overlapping and touching ranges, keeps the newest, and raises the floor past the trimmed', async () => {
    await state('e', { slot: T, seen: T - 600 * M });
    expect(
      await recordPassed([
        ['e', T - 50 * M, T - 40 * M],
        ['e', T - 30 * M, T - 20 * M],
      ]),
    ).toEqual([1, 1, 1]);
    expect(await recordPassed([['e', T - 45 * M, T - 30 * M - 1]])).toEqual([1, 1]);
    expect(await ranges('e')).toEqual([range(T - 50 * M, T - 20 * M)]);
    expect(
      await recordPassed(
        [
          ['e', T - 10 * M, T - 9 * M],
          ['e', T - 5 * M, T - 5 * M],
        ],
        2,
      ),
    ).toEqual([1, 1, 1]);
    expect(await ranges('e')).toEqual([range(T - 10 * M, T - 9 * M), range(T - 5 * M, T - 5 * M)]);
    expect(await redis.hget(keys.passedFloor, 'e')).toBe(String(T - 20 * M + 1));
    // Below the floor: unrecorded; in a kept range: published; between: published by the schedule.
    expect(await step([T - 30 * M, T - 20 * M + 1, T - 9 * M, T - 5 * M])).toEqual([1, 5, 0, 1, 1]);
  });

  it('record-passed marks a range above the stored slot open; passed-clip cuts it at the stored slot for a new leader', async () => {
    await state('e', { slot: T - 5 * M, seen: T - 600 * M });
    await state('f', { slot: T, seen: T - 600 * M });
    await redis.set(keys.fence, 'old-leader');
    expect(
      await recordPassed(
        [
          ['e', T - 10 * M, T - 8 * M],
          ['e', T - 6 * M, T - 2 * M],
          ['f', T - 3 * M, T - 2 * M],
        ],
        10,
        'old-leader',
      ),
    ).toEqual([1, 1, 1, 1]);
    expect(await redis.hgetall(keys.passedOpen)).toEqual({ e: 'old-leader' });
    // The old leader is fenced out: its late reports write nothing.
    await redis.set(keys.fence, TOKEN);
    expect(await recordPassed([['e', T - 4 * M, T - 4 * M]], 10, 'old-leader')).toEqual([-1]);
    await redis.del(keys.passedSince);
    expect(await clip(['e', 'f'], T + 2000)).toEqual([1, 1]);
    expect(await ranges('e')).toEqual([range(T - 10 * M, T - 8 * M), range(T - 6 * M, T - 5 * M)]);
    expect(await ranges('f')).toEqual([range(T - 3 * M, T - 2 * M)]);
    expect(await redis.hgetall(keys.passedOpen)).toEqual({});
    expect(await redis.get(keys.passedSince)).toBe(String(T + 2000));
    // First writer wins; this leader's own marks stay.
    await recordPassed([['e', T - M, T - M]]);
    expect(await clip(['e'], T + 9000)).toEqual([1, 0]);
    expect(await redis.get(keys.passedSince)).toBe(String(T + 2000));
    expect(await redis.hgetall(keys.passedOpen)).toEqual({ e: TOKEN });
    // A deployment where nothing ran yet: nothing was passed over unrecorded.
    await redis.del(keys.passedSince, keys.state);
    expect(await clip([], T)).toEqual([1, 0]);
    expect(await redis.get(keys.passedSince)).toBe('0');
  });

  it('a new deployment whose first session records its sightings without its lease: passed-since is 0 from the first sighting, so a backfill before them publishes', async () => {
    await redis.del(keys.passedSince);
    // The first session lost its lease as it began: begin() cut and set nothing; its runner recorded the sighting (unfenced).
    const session = (lease: string | undefined) => new RedisPassedSlots(redis, keys, createLogger({ level: 'silent' }), () => lease, 1000);
    await session(undefined).begin(T - 10 * M);
    expect(await redis.get(keys.passedSince)).toBeNull();
    await new RedisStateStore(redis, keys).load(['e'], T - 10 * M);
    expect(await redis.get(keys.passedSince)).toBe('0');
    // The next session leads (its begin finds the hash holding the sighting), and the entry runs.
    await session(TOKEN).begin(T - 5 * M);
    expect(await redis.get(keys.passedSince)).toBe('0');
    await state('e', { slot: T - 2 * M, seen: T - 10 * M });
    // Before the sighting: never published, and the record speaks for it (it was skipped as unrecorded, 5).
    expect(await step([T - 12 * M, T - 11 * M], { entry: 'e', last: false })).toEqual([1, 1, 1]);
    expect(await queued()).toEqual([`e@${T - 12 * M}`, `e@${T - 11 * M}`]);
    // A state already there: something may have run before the record began, and passed-since stays unset.
    await redis.del(keys.passedSince);
    await new RedisStateStore(redis, keys).load(['f'], T);
    expect(await redis.get(keys.passedSince)).toBeNull();
    // Nothing written (an entry deleted since it was read): nothing set either.
    await redis.del(keys.state);
    await new RedisStateStore(redis, keys).load(['gone'], T, new Map([['gone', '5']]));
    expect(await redis.hlen(keys.state)).toBe(0);
    expect(await redis.get(keys.passedSince)).toBeNull();
  });

  it("a new django deployment whose never-run rows were read before the first leader began: their anchors start passed-since at 0, another scheduler's last run leaves it to the leader", async () => {
    await redis.del(keys.passedSince);
    const scope = { zone: 'UTC', deployment: 'bf' };
    const session = new RedisPassedSlots(redis, keys, createLogger({ level: 'silent' }), () => TOKEN, 1000);
    // Every replica's django source reads the rows at its start: a never-run row's date_changed is its anchor (its first sighting).
    const anchors = ['e', 'f'].map((name) => ({ name, lastRunMs: T - 10 * M, runCount: 0, anchor: true }));
    expect(await seedStates(redis, keys, anchors, scope)).toBe(2);
    expect(await redis.get(keys.passedSince)).toBe('0');
    // The first leader begins after them: the record starts at 0 all the same (it was set after the anchors, 3.3 s, in the flaky dashboard test).
    await session.begin(T - 5 * M);
    expect(await redis.get(keys.passedSince)).toBe('0');
    // The row runs (its first slots published by the leader); slots before the anchor: no scheduler
    // ever ran them, and the record says so: published (with passed-since after the anchor, unrecorded: 5).
    await state('e', { slot: T - 2 * M, seen: T - 10 * M });
    expect(await step([T - 12 * M, T - 11 * M], { entry: 'e', last: false })).toEqual([1, 1, 1]);
    expect(await queued()).toEqual([`e@${T - 12 * M}`, `e@${T - 11 * M}`]);

    // Another scheduler's last run among them (a cut-over, chunks of 1,000 apart): the record is left unset, whatever the order given,
    // and the first leader starts it after them, so that the slots before a run celery beat made are unrecorded (it may have skipped them).
    await redis.del(keys.state, keys.passedSince);
    const many = Array.from({ length: 1001 }, (_, i) => ({ name: `a${i}`, lastRunMs: T - 10 * M, runCount: 0, anchor: true }));
    expect(await seedStates(redis, keys, [...many, { name: 'ran', lastRunMs: T - 3 * M, runCount: 4 }], scope)).toBe(1002);
    expect(await redis.get(keys.passedSince)).toBeNull();
    await session.begin(T);
    expect(Number(await redis.get(keys.passedSince))).toBeGreaterThan(T);
    // Anchors into a state already holding something: unset, as the first leader's passed-clip would judge it.
    await redis.del(keys.state, keys.passedSince);
    await state('old', { slot: T - 20 * M });
    expect(await seedStates(redis, keys, anchors, scope)).toBe(2);
    expect(await redis.get(keys.passedSince)).toBeNull();
    // A passed-since already set is kept.
    await redis.del(keys.state);
    await redis.set(keys.passedSince, String(T));
    expect(await seedStates(redis, keys, anchors, scope)).toBe(2);
    expect(await redis.get(keys.passedSince)).toBe(String(T));
  });

  it('record-passed writes nothing for an entry changed or deleted since it was read', async () => {
    await state('e', { slot: T, seen: T - 600 * M });
    await redis.hset(keys.entries, 'e', '{"v":7,"i":7,"created":1,"updated":1,"entry":{}}');
    expect(
      await recordPassed([
        ['e', T - 9 * M, T - 8 * M, '6'],
        ['gone', T - 9 * M, T - 8 * M, '3'],
      ]),
    ).toEqual([1, 2, 2]);
    expect(await redis.exists(keys.passed('e'), keys.passed('gone'), keys.passedOpen)).toBe(0);
    expect(await recordPassed([['e', T - 9 * M, T - 8 * M, '7']])).toEqual([1, 1]);
  });

  it('RedisPassedSlots records the reports that have a last slot, only while it leads, and begin() cuts what another leader left open', async () => {
    let lease: string | undefined = TOKEN;
    const store = new RedisPassedSlots(redis, keys, createLogger({ level: 'silent' }), () => lease, 1000);
    const entry = (name: string): ResolvedEntry => ({ name }) as unknown as ResolvedEntry;
    await state('e', { slot: T - 5 * M, seen: T - 600 * M });
    const report = { count: 3, reason: 'skip_late' as const, atMs: T };
    await Promise.all([
      store.record({ ...report, entry: entry('e'), firstSlotMs: T - 9 * M, lastSlotMs: T - 7 * M }),
      // bufferOne's release: no last slot, not recorded.
      store.record({ ...report, entry: entry('e2'), firstSlotMs: T - 9 * M }),
    ]);
    expect(await ranges('e')).toEqual([range(T - 9 * M, T - 7 * M)]);
    expect(await redis.exists(keys.passed('e2'))).toBe(0);
    lease = undefined;
    await store.record({ ...report, entry: entry('e'), firstSlotMs: T - 3 * M, lastSlotMs: T - 3 * M });
    expect(await ranges('e')).toEqual([range(T - 9 * M, T - 7 * M)]);
    // Left open by another leader: a range after the stored slot.
    await redis.zadd(keys.passed('e'), T - 4 * M, range(T - 4 * M, T - 2 * M));
    await redis.hset(keys.passedOpen, 'e', 'old-leader');
    lease = TOKEN;
    await store.begin(T);
    expect(await ranges('e')).toEqual([range(T - 9 * M, T - 7 * M)]);
    expect(await redis.hgetall(keys.passedOpen)).toEqual({});
    // Set before (beforeEach): the first writer's stays.
    expect(await redis.get(keys.passedSince)).toBe(String(T - 100 * M));
  });

  it('on RabbitMQ and SQS (publishConfirmedBackfill): a step with an unconfirmed slot is not recorded and goes again with the same ids; a refused one refuses the request', async () => {
    await state('e', { slot: T - 5 * M, seen: T - 60 * M });
    expect(await recordPassed([['e', T - 9 * M, T - 7 * M]])).toEqual([1, 1]);
    const template = compileMessageTemplate(entry({ name: 'e', task: 'proj.add' }), config(), ENV);
    const slots = [T - 9 * M, T - 8 * M, T - 7 * M, T - 6 * M];
    const runs = slots.map((slotMs) => ({ slotMs, message: renderTaskMessage(template, { taskId: `id-${slotMs}`, slotMs, nowMs: T }) }));
    const stepOf = { runs, excluded: 0, throughMs: T - 6 * M, total: slots.length, last: true };
    const request = { text: REQUEST, id: 'r1', unrecorded: false };
    // A broker whose answers the test scripts: what each send carried, by task id.
    const sends: string[][] = [];
    let answer = (i: number): AmqpSendResult =>
      i === 1 ? { status: 'failed', error: new Error('connection lost') } : { status: 'confirmed' };
    const broker = {
      plan: (messages: readonly TaskMessage[]) => Promise.resolve(messages),
      send: (messages: readonly TaskMessage[]) => {
        sends.push(messages.map((m) => m.id));
        return Promise.resolve(messages.map((_, i) => answer(i)));
      },
    };
    const unrecorded: string[][] = [];
    const call = () =>
      publishConfirmedBackfill(redis, broker, keys, (messages) => unrecorded.push(messages.map((m) => m.id)), {
        entry: 'e',
        step: stepOf,
        request,
        token: TOKEN,
        nowMs: T,
      });
    const passedOver = ['id-' + String(T - 9 * M), 'id-' + String(T - 8 * M), 'id-' + String(T - 7 * M)];

    // The second of the three passed-over slots is not confirmed: nothing recorded, the request stays.
    await expect(call()).rejects.toThrow(/1 of 3 slots not confirmed by the broker \(connection lost\)/);
    expect(sends).toEqual([passedOver]);
    expect(unrecorded).toEqual([[passedOver[0], passedOver[2]]]);
    expect(await ranges('e')).toEqual([range(T - 9 * M, T - 7 * M)]);
    expect(await progress()).toEqual({});
    expect(await redis.lrange(keys.backfills, 0, -1)).toEqual([REQUEST]);

    // Again, all confirmed: the same three ids, then recorded with the request's progress, the request done.
    answer = () => ({ status: 'confirmed' });
    expect(await call()).toEqual({ kind: 'done', outcomes: ['published', 'published', 'published', 'recorded'] });
    expect(sends[1]).toEqual(passedOver);
    expect(await ranges('e')).toEqual([range(T - 9 * M + 1, T - 8 * M - 1), range(T - 8 * M + 1, T - 7 * M - 1)]);
    expect(await progress()).toMatchObject({ published: '3', recorded: '1', through: String(T - 6 * M), done: String(T) });
    expect(await redis.llen(keys.backfills)).toBe(0);

    // Returned unroutable: the entry's own fault, the request refused (its remover, backfill-work, keeps the reason).
    await again();
    await redis.del(keys.backfill('r1'));
    expect(await recordPassed([['e', T - 20 * M, T - 20 * M]])).toEqual([1, 1]);
    const lone = { slotMs: T - 20 * M, message: renderTaskMessage(template, { taskId: 'id-lone', slotMs: T - 20 * M, nowMs: T }) };
    answer = () => ({ status: 'returned', reason: 'NO_ROUTE' });
    const refused = await publishConfirmedBackfill(redis, broker, keys, () => undefined, {
      entry: 'e',
      step: { ...stepOf, runs: [lone], throughMs: T - 20 * M, total: 1 },
      request,
      token: TOKEN,
      nowMs: T,
    });
    expect(refused).toEqual({ kind: 'refused', reason: 'the broker refused its messages: unroutable: NO_ROUTE' });
    expect(await ranges('e')).toContain(range(T - 20 * M, T - 20 * M));
  });

  it('the deployment-wide stop: a step that would publish, and a claim, write nothing and answer -3; a step recording what a broker confirmed goes on', async () => {
    await state('e', { slot: T, seen: T - 600 * M });
    await recordPassed([['e', T - 3 * M, T - M]]);
    await redis.set(keys.stop, JSON.stringify({ by: 'ops', at: T }));
    expect(await step([T - 2 * M], { last: false })).toEqual([-3]);
    expect(await step([T - 2 * M], { claim: true })).toEqual([-3]);
    expect(await queued()).toEqual([]);
    expect(await progress()).toEqual({});
    expect(await ranges('e')).toEqual([range(T - 3 * M, T - M)]);
    expect(await redis.lrange(keys.backfills, 0, -1)).toEqual([REQUEST]);
    // RabbitMQ's commit of a slot sent before the stop: recorded, so that it is never sent again.
    expect(await step([T - 2 * M], { sent: true, last: false })).toEqual([1, 1]);
    expect(await queued()).toEqual([]);
    expect(await ranges('e')).toEqual([range(T - 3 * M, T - 2 * M - 1), range(T - 2 * M + 1, T - M)]);
    // Lifted: the step publishes.
    await redis.del(keys.stop);
    expect(await step([T - M], { last: false })).toEqual([1, 1]);
    expect(await queued()).toEqual([`e@${T - M}`]);
  });

  it('withdrawn, fenced, superseded: nothing written; a queue key of another type: refused, the request removed', async () => {
    await state('e', { slot: T, seen: T - 600 * M });
    await recordPassed([['e', T - 3 * M, T - M]]);
    await redis.del(keys.backfills);
    expect(await step([T - M])).toEqual([0]);
    await again();
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
    expect(await ranges('e')).toEqual([range(T - 3 * M, T - M - 1)]);
  });
});
