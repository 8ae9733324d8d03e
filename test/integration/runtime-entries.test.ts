/**
 * The runtime entry store (src/redis/entry-store.ts) and a running beat that follows it: writes are
 * all or nothing with every problem named; a leader with a standby applies each create, edit,
 * disable and delete within about a second, and publishes no slot twice.
 * Redis: a private redis-server of this file (see test/support/ops.ts).
 */
import type { IncomingMessage } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ErrorCode } from '../../src/base/errors.js';
import { EVENTS } from '../../src/base/log-events.js';
import { createLogger } from '../../src/base/log.js';
import { failureAnswer } from '../../src/http/failures.js';
import { RedisEntryStore } from '../../src/redis/entry-store.js';
import { encodeEntryRecord } from '../../src/redis/entry-record-codec.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { readQueue } from '../support/beat-queue.js';
import { startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'tsbeat_test.record';

describe('the runtime entry store', () => {
  let server: PrivateRedis;
  let redis: Redis;
  const keys = schedulerKeys('tsbeat', 'store-unit');

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
  });

  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('a write that ioredis sends again after its connection died answers what the first sending did', async () => {
    // A connection silent past socketTimeout is destroyed and its unanswered commands sent again on the
    // next one (ioredis's autoResendUnfulfilledCommands). A write of many entries can outlast it under
    // load; Redis still finishes the first sending, so without a receipt the second one answered
    // "unchanged" for every entry the first had created (entries-bulk's 83,000-entry PUT, under load).
    const slow = new Redis(server.url(0), { socketTimeout: 100, maxRetriesPerRequest: 50, retryStrategy: () => 10 });
    slow.on('error', () => undefined);
    const reconnects: number[] = [];
    slow.on('reconnecting', () => reconnects.push(Date.now()));
    try {
      const resendKeys = schedulerKeys('tsbeat', 'store-resend');
      const store = new RedisEntryStore(slow, resendKeys);
      await slow.ping();
      const names = Array.from({ length: 60_000 }, (_, i) => `r-${i}`);
      const result = await store.write(
        names.map((name) => ({ op: 'put' as const, name, entry: { task: TASK, schedule: 60 } })),
        { nowMs: 1000 },
      );
      // The case under test happened: the connection was dropped while the write ran.
      expect(reconnects.length).toBeGreaterThan(0);
      expect(result.version).toBe(1);
      expect(result.outcomes.filter((o) => o === 'created').length).toBe(names.length);
      expect(await redis.hlen(resendKeys.entries)).toBe(names.length);
      expect(await redis.get(resendKeys.entriesVersion)).toBe('1');
    } finally {
      slow.disconnect();
    }
  });

  it('creates, changes, reports unchanged and deletes, one version per write, and reads changes since a version', async () => {
    const store = new RedisEntryStore(redis, keys);
    const first = await store.write(
      [
        { op: 'put', name: 'a', entry: { task: TASK, schedule: 60 } },
        { op: 'put', name: 'b', entry: { task: TASK, schedule: { cron: '0 3 * * *' } } },
      ],
      { nowMs: 1000 },
    );
    expect(first).toEqual({ version: 1, outcomes: ['created', 'created'] });
    const snapshot = await store.load();
    expect(snapshot.cursor).toBe('1');
    expect(snapshot.entries.map((e) => e.name).sort()).toEqual(['a', 'b']);

    // Keys in another order are the same entry: nothing changes, no version is spent.
    const again = await store.write([{ op: 'put', name: 'a', entry: { schedule: 60, task: TASK } }], { nowMs: 2000 });
    expect(again).toEqual({ version: 1, outcomes: ['unchanged'] });

    const edit = await store.write(
      [
        { op: 'put', name: 'a', entry: { task: TASK, schedule: 30 } },
        { op: 'delete', name: 'b' },
        { op: 'delete', name: 'never' },
      ],
      { nowMs: 3000 },
    );
    expect(edit).toEqual({ version: 2, outcomes: ['updated', 'deleted', 'absent'] });
    const a = await store.get('a');
    expect(a).toMatchObject({ name: 'a', version: 2, createdMs: 1000, updatedMs: 3000, entry: { task: TASK, schedule: 30 } });
    const changes = await store.changesSince('1');
    expect(changes.cursor).toBe('2');
    expect(changes.changed.map((e) => e.name)).toEqual(['a']);
    expect(changes.removed).toEqual(['b']);
    expect(await store.changesSince('2')).toEqual({ changed: [], removed: [], cursor: '2' });
  });

  it('gives each entry an incarnation at its creation, kept by edits, never reused by a re-creation, even in the same millisecond', async () => {
    const k = schedulerKeys('tsbeat', 'store-incarnations');
    const store = new RedisEntryStore(redis, k);
    const entry = (schedule: number): unknown => ({ task: TASK, schedule });
    const sourcedOf = async (name: string): Promise<{ incarnation?: string; revision?: string }> => {
      const found = (await store.load()).entries.find((e) => e.name === name);
      return { incarnation: found?.incarnation, revision: found?.revision };
    };
    await store.write([{ op: 'put', name: 'x', entry: entry(60) }], { nowMs: 7000 }); // version 1
    await store.write([{ op: 'put', name: 'x', entry: entry(30) }], { nowMs: 7000 }); // version 2: an edit
    expect(await sourcedOf('x')).toEqual({ incarnation: '1', revision: '2' });
    // Deleted and created again at the same instant, in two writes and then in one.
    await store.write([{ op: 'delete', name: 'x' }], { nowMs: 7000 }); // 3
    await store.write([{ op: 'put', name: 'x', entry: entry(30) }], { nowMs: 7000 }); // 4
    expect(await sourcedOf('x')).toEqual({ incarnation: '4', revision: '4' });
    await store.write(
      [
        { op: 'delete', name: 'x' },
        { op: 'put', name: 'x', entry: entry(30) },
      ],
      { nowMs: 7000 },
    ); // 5
    expect(await sourcedOf('x')).toEqual({ incarnation: '5', revision: '5' });
    // A record written before incarnations keeps the one it had then (its creation time) across edits.
    await redis.hset(k.entries, 'old', `{"v":3,"created":1234,"updated":1234,"entry":{"schedule":60,"task":"${TASK}"}}`);
    expect(await sourcedOf('old')).toEqual({ incarnation: 'c1234', revision: '3' });
    await store.write([{ op: 'put', name: 'old', entry: entry(20) }], { nowMs: 9000 }); // 6
    expect(await sourcedOf('old')).toEqual({ incarnation: 'c1234', revision: '6' });
    expect(await redis.hget(k.entries, 'old')).toBe(`{"v":6,"created":1234,"updated":9000,"entry":{"schedule":20,"task":"${TASK}"}}`);
    expect(await redis.hget(k.entries, 'x')).toBe(`{"v":5,"i":5,"created":7000,"updated":7000,"entry":{"schedule":30,"task":"${TASK}"}}`);
  });

  it('applies a long write op by op, in order, though the script sends its commands 500 members at a time', async () => {
    const k = schedulerKeys('tsbeat', 'store-batches');
    const store = new RedisEntryStore(redis, k);
    const entry = (n: number): { schedule: number; task: string } => ({ schedule: n, task: TASK });
    await store.write(
      Array.from({ length: 300 }, (_, i) => ({ op: 'put' as const, name: `n${i}`, entry: entry(60) })),
      { nowMs: 1 },
    ); // version 1: n0..n299
    await redis.sadd(k.paused, 'n5', 'n250');
    // 2,400 ops in one write, names repeated across the script's batches of 500: the model below
    // applies them one at a time.
    const ops: { op: 'put' | 'delete'; name: string; entry?: unknown }[] = [];
    for (let i = 0; i < 800; i += 1) ops.push({ op: 'put', name: `n${i}`, entry: entry(60 + (i % 3)) });
    for (let i = 0; i < 800; i += 2) ops.push({ op: 'delete', name: `n${i}` });
    for (let i = 0; i < 800; i += 4) ops.push({ op: 'put', name: `n${i}`, entry: entry(7) });
    for (let i = 1; i < 1400; i += 7) ops.push({ op: 'delete', name: `n${i}` });
    const model = new Map<string, { schedule: number; created: boolean }>();
    for (let i = 0; i < 300; i += 1) model.set(`n${i}`, { schedule: 60, created: false });
    const expected = ops.map((o) => {
      const before = model.get(o.name);
      if (o.op === 'delete') {
        model.delete(o.name);
        return before === undefined ? 'absent' : 'deleted';
      }
      const schedule = (o.entry as { schedule: number }).schedule;
      model.set(o.name, { schedule, created: before === undefined || before.created });
      return before === undefined ? 'created' : before.schedule === schedule ? 'unchanged' : 'updated';
    });
    const written = await store.write(
      ops.map((o) => (o.op === 'put' ? { op: 'put', name: o.name, entry: o.entry } : { op: 'delete', name: o.name })),
      { nowMs: 2 },
    );
    expect(written).toEqual({ version: 2, outcomes: expected });
    const stored = await redis.hgetall(k.entries);
    expect(Object.keys(stored).sort()).toEqual([...model.keys()].sort());
    for (const [name, { schedule, created }] of model)
      // Kept since version 1 (created at 1) or created by this write (incarnation 2): never both.
      expect(stored[name], name).toBe(
        `{"v":${created ? 2 : schedule === 60 ? 1 : 2},"i":${created ? 2 : 1},"created":${created ? 2 : 1},"updated":${created || schedule !== 60 ? 2 : 1},"entry":{"schedule":${schedule},"task":"${TASK}"}}`,
      );
    expect((await redis.zrange(k.entryNames, '0', '-1')).sort()).toEqual([...model.keys()].sort());
    // Every name this write changed is a change at version 2, and the deleted left the paused set.
    const changed = new Set(ops.filter((o, i) => expected[i] !== 'unchanged' && expected[i] !== 'absent').map((o) => o.name));
    expect((await redis.zrangebyscore(k.entryChanges, 2, 2)).sort()).toEqual([...changed].sort());
    expect(await redis.smembers(k.paused)).toEqual(model.has('n5') ? ['n5'] : []);
  });

  it('refuses a batch with any bad entry, naming every problem with its path, and writes none of it', async () => {
    const store = new RedisEntryStore(redis, keys);
    const before = await store.version();
    const error = await store
      .write(
        [
          { op: 'put', name: 'good', entry: { task: TASK, schedule: 60 } },
          { op: 'put', name: 'bad', entry: { task: 'has space', schedule: { cron: '61 * * * *' } } },
          { op: 'put', name: '', entry: { task: TASK, schedule: 60 } },
        ],
        { nowMs: 5000 },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect((error as ConfigError).code).toBe(ErrorCode.EntryInvalid);
    expect(problems.map((p) => p.path)).toEqual(expect.arrayContaining(['entries.bad.task', 'entries.bad.schedule.cron', 'entries[""]']));
    expect(await store.version()).toBe(before);
    expect(await store.get('good')).toBeUndefined();
  });

  it("refuses a config file's entry name, told by the writer or by the leader's list in Redis", async () => {
    const local = new RedisEntryStore(redis, keys, new Set(['nightly']));
    await expect(local.write([{ op: 'put', name: 'nightly', entry: { task: TASK, schedule: 60 } }], { nowMs: 1 })).rejects.toMatchObject({
      code: ErrorCode.EntryIsStatic,
    });
    const remote = new RedisEntryStore(redis, keys);
    await remote.publishStaticNames(['hourly', 'nightly']);
    await expect(
      remote.write(
        [
          { op: 'put', name: 'fine', entry: { task: TASK, schedule: 60 } },
          { op: 'put', name: 'hourly', entry: { task: TASK, schedule: 60 } },
        ],
        { nowMs: 1 },
      ),
    ).rejects.toMatchObject({ code: ErrorCode.EntryIsStatic, message: expect.stringContaining('"hourly"') });
    expect(await remote.get('fine')).toBeUndefined();
  });

  it('applies a write that expects a version only to that version, and a delete clears the pause of the entry', async () => {
    const store = new RedisEntryStore(redis, keys);
    await store.write([{ op: 'put', name: 'guarded', entry: { task: TASK, schedule: 60 } }], { nowMs: 1 });
    const stored = await store.get('guarded');
    const version = stored?.version ?? -1;
    await store.write([{ op: 'put', name: 'guarded', entry: { task: TASK, schedule: 30 }, ifVersion: version }], { nowMs: 2 });
    // A second writer that read the same version loses, and nothing of its write is applied.
    const lost = await store
      .write(
        [
          { op: 'put', name: 'other', entry: { task: TASK, schedule: 5 } },
          { op: 'put', name: 'guarded', entry: { task: TASK, schedule: 10 }, ifVersion: version },
        ],
        { nowMs: 3 },
      )
      .catch((e: unknown) => e);
    expect(lost).toMatchObject({ code: ErrorCode.EntryConflict, entry: 'guarded', expected: version });
    expect(await store.get('other')).toBeUndefined();
    expect((await store.get('guarded'))?.entry).toEqual({ task: TASK, schedule: 30 });
    await expect(
      store.write([{ op: 'put', name: 'guarded', entry: { task: TASK, schedule: 1 }, ifVersion: 0 }], { nowMs: 4 }),
    ).rejects.toMatchObject({
      code: ErrorCode.EntryConflict,
    });

    await redis.sadd(keys.paused, 'guarded');
    await redis.hset(keys.resumed, 'guarded', '1');
    await store.write([{ op: 'delete', name: 'guarded' }], { nowMs: 5, keepHistory: true });
    expect(await redis.sismember(keys.paused, 'guarded')).toBe(1);
    await store.write([{ op: 'put', name: 'guarded', entry: { task: TASK, schedule: 60 }, ifVersion: 0 }], { nowMs: 6 });
    await store.write([{ op: 'delete', name: 'guarded' }], { nowMs: 7 });
    expect(await redis.sismember(keys.paused, 'guarded')).toBe(0);
    expect(await redis.hexists(keys.resumed, 'guarded')).toBe(0);
  });

  it('refuses to write when one of its keys holds another type, naming the key, and writes nothing', async () => {
    const other = schedulerKeys('tsbeat', 'store-wrongtype');
    await redis.set(other.entryChanges, 'not a zset');
    const store = new RedisEntryStore(redis, other);
    const error = await store.write([{ op: 'put', name: 'x', entry: { task: TASK, schedule: 60 } }], { nowMs: 1 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.RedisWrongType, message: expect.stringContaining(other.entryChanges) });
    expect(await redis.exists(other.entries, other.entriesVersion)).toBe(0);
  });

  it('refuses to write or read when entries:version holds no safe integer (2^70, 2^53, a leading zero), naming the key, and writes nothing', async () => {
    // 2^70 passed the script's digits-only check and failed its INCR: an unnamed error, answered 500.
    const other = schedulerKeys('tsbeat', 'store-huge-version');
    const store = new RedisEntryStore(redis, other);
    for (const counter of ['1180591620717411303424', '9007199254740992', '0009']) {
      await redis.set(other.entriesVersion, counter);
      const garbled = {
        code: ErrorCode.RedisGarbled,
        message: `key ${other.entriesVersion} holds "${counter}", not the version counter of the runtime entries (a whole number from 0 to 2^53 - 1): something else wrote it. Runtime entries are neither read nor written until it is mended: SET ${other.entriesVersion} 0 (the highest version in ${other.entryChanges})`,
      };
      const error = await store
        .write([{ op: 'put', name: 'x', entry: { task: TASK, schedule: 60 } }], { nowMs: 1 })
        .catch((e: unknown) => e);
      expect(error, counter).toMatchObject(garbled);
      // What the API answers for it: 503, as for any other key something else wrote (it was 500).
      const put = { url: '/api/entries/x', method: 'PUT', headers: {}, socket: {} } as unknown as IncomingMessage;
      const silent = createLogger({ destination: { write: () => undefined } });
      expect(failureAnswer(error, put, silent), counter).toMatchObject({ status: 503, body: { code: ErrorCode.RedisGarbled } });
      expect(await store.version().catch((e: unknown) => e), counter).toMatchObject(garbled);
      expect(await redis.get(other.entriesVersion)).toBe(counter);
      expect(await redis.exists(other.entries, other.entryChanges)).toBe(0);
    }
    // The largest safe counter is still one.
    await redis.set(other.entriesVersion, '9007199254740990');
    expect(await store.write([{ op: 'put', name: 'x', entry: { task: TASK, schedule: 60 } }], { nowMs: 1 })).toEqual({
      version: 9007199254740991,
      outcomes: ['created'],
    });
    expect(await store.version()).toBe(9007199254740991);
  });

  it('refuses a lookalike name for a new entry, and reads and deletes one stored before that rule', async () => {
    const old = schedulerKeys('tsbeat', 'store-lookalike');
    const store = new RedisEntryStore(redis, old);
    const names = ['nightl\u0443', 'night\u034fly', 'report\u3164', 'nightly\u200b'];
    // Stored as an earlier tsbeat wrote them, before the name rules of issues 49 and 66.
    await redis
      .multi()
      .hset(old.entries, ...names.flatMap((n) => [n, encodeEntryRecord(1, 1, 1000, 1000, JSON.stringify({ task: TASK, schedule: 60 }))]))
      .zadd(old.entryNames, ...names.flatMap((n) => ['0', n]))
      .zadd(old.entryChanges, ...names.flatMap((n) => ['1', n]))
      .set(old.entriesVersion, '1')
      .exec();
    const loaded = (await store.load()).entries;
    // Read as entries to run, none with a problem.
    expect(
      loaded
        .filter((e) => e.problems === undefined)
        .map((e) => e.name)
        .sort(),
    ).toEqual([...names].sort());
    const put = await store
      .write([{ op: 'put', name: 'nightl\u0443', entry: { task: TASK, schedule: 120 } }], { nowMs: 2000 })
      .catch((e: unknown) => e);
    expect(put).toBeInstanceOf(ConfigError);
    expect(String(put)).toContain('U+0443 (Cyrillic) at position 7 in a Latin name');
    const deleted = await store.write(
      names.map((name) => ({ op: 'delete' as const, name })),
      { nowMs: 3000 },
    );
    expect(deleted.outcomes).toEqual(['deleted', 'deleted', 'deleted', 'deleted']);
    expect(await redis.hlen(old.entries)).toBe(0);
  });

  it('reads a value it did not write as an entry with a problem, not as a crash', async () => {
    await redis.hset(keys.entries, 'hand-written', '{"task":"x"}');
    const store = new RedisEntryStore(redis, keys);
    const found = (await store.load()).entries.find((e) => e.name === 'hand-written');
    expect(found?.problems?.[0]?.message).toMatch(/not a tsbeat entry record/);
    await redis.hdel(keys.entries, 'hand-written');
  });
});

describe('a running beat follows the runtime store (leader and standby, real processes)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let url = '';

  beforeAll(async () => {
    server = await startPrivateRedis();
    url = server.url(0);
    redis = new Redis(url);
  });

  afterAll(async () => {
    await fleet.killAll();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it('applies creates, edits, disables and deletes within a second, publishing no slot twice', async () => {
    const file = dir.write(
      'beat.yaml',
      [
        'name: live',
        `broker: { url: "${url}" }`,
        'taskDefaultQueue: q-file',
        'maxInterval: 5s',
        `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
        'beatSchedule:',
        `  static-one: { task: ${TASK}, schedule: 3600 }`,
        '',
      ].join('\n'),
    );
    const leader = fleet.spawn({ config: file });
    await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
    const standby = fleet.spawn({ config: file });
    await standby.waitForEvent(EVENTS.standby, 10_000);

    const store = new RedisEntryStore(redis, schedulerKeys('tsbeat', 'live'));
    // The leader tells writers its file's names.
    await waitUntil(
      'the static names in Redis',
      async () => ((await redis.sismember(schedulerKeys('tsbeat', 'live').statics, 'static-one')) === 1 ? true : undefined),
      5000,
    );
    await expect(
      store.write([{ op: 'put', name: 'static-one', entry: { task: TASK, schedule: 1 } }], { nowMs: Date.now() }),
    ).rejects.toMatchObject({
      code: ErrorCode.EntryIsStatic,
    });

    const createdAt = Date.now();
    await store.write([{ op: 'put', name: 'dyn', entry: { task: TASK, schedule: 1, options: { queue: 'q-a' } } }], { nowMs: createdAt });
    await waitUntil(
      '2 runs in q-a',
      async () => ((await readQueue(redis, 'q-a')).length >= 2 ? true : undefined),
      5000,
      () => fleet.dump(),
    );
    const firstRun = (await readQueue(redis, 'q-a'))[0];
    // Within about a second of the write (an every-second entry adds up to a second of its own).
    expect((firstRun?.slotMs ?? Infinity) - createdAt).toBeLessThan(2500);

    await store.write([{ op: 'put', name: 'dyn', entry: { task: TASK, schedule: 1, options: { queue: 'q-b' } } }], { nowMs: Date.now() });
    await waitUntil(
      '2 runs in q-b',
      async () => ((await readQueue(redis, 'q-b')).length >= 2 ? true : undefined),
      5000,
      () => fleet.dump(),
    );

    await store.write([{ op: 'put', name: 'dyn', entry: { task: TASK, schedule: 1, options: { queue: 'q-b' }, enabled: false } }], {
      nowMs: Date.now(),
    });
    await leader.waitForEvent(EVENTS.entriesChanged, 3000);
    await new Promise((r) => setTimeout(r, 300));
    const afterDisable = (await readQueue(redis, 'q-b')).length;
    await new Promise((r) => setTimeout(r, 2000));
    expect((await readQueue(redis, 'q-b')).length).toBe(afterDisable);

    await store.write([{ op: 'put', name: 'gone', entry: { task: TASK, schedule: 1, options: { queue: 'q-c' } } }], { nowMs: Date.now() });
    await waitUntil(
      '1 runs in q-c',
      async () => ((await readQueue(redis, 'q-c')).length >= 1 ? true : undefined),
      5000,
      () => fleet.dump(),
    );
    await store.write([{ op: 'delete', name: 'gone' }], { nowMs: Date.now() });
    await new Promise((r) => setTimeout(r, 500));
    const afterDelete = (await readQueue(redis, 'q-c')).length;
    await new Promise((r) => setTimeout(r, 2000));
    expect((await readQueue(redis, 'q-c')).length).toBe(afterDelete);
    // Deleted without --keep-history: its state went with it.
    expect(await redis.hexists(schedulerKeys('tsbeat', 'live').state, 'gone')).toBe(0);

    const all = [...(await readQueue(redis, 'q-a')), ...(await readQueue(redis, 'q-b')), ...(await readQueue(redis, 'q-c'))];
    const ids = all.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(standby.logs.some((l) => l.event === EVENTS.fire)).toBe(false);
  }, 60_000);
});
