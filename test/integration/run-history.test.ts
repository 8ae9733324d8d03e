/**
 * lua/run-history.lua through RedisRunHistory, on a private redis-server: bounded histories, a run
 * recorded once, a final state never replaced (but a REVOKED by the run's end, as Celery 5.6 writes), the pending set kept with the histories, and a key
 * of another type refused before anything is written; and the entry fence (issue 31): a run whose
 * entry was deleted, or deleted and created again, since it was published writes nothing — not its
 * history, its finished summary, its failure count nor the pending set — while an edit keeps its
 * outcomes.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/base/log.js';
import { OutcomeTracker } from '../../src/outcomes/tracker.js';
import type { RunRecord } from '../../src/ports/outcomes.js';
import { RedisEntryStore } from '../../src/redis/entry-store.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import type { SchedulerKeys } from '../../src/redis/keys.js';
import { RedisResultReader } from '../../src/redis/result-backend.js';
import { RedisRunHistory } from '../../src/redis/run-history-store.js';
import { waitUntil } from '../support/beat-process.js';
import { startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const run = (taskId: string, publishedAtMs: number, state: RunRecord['state'] = 'PENDING'): RunRecord => ({
  taskId,
  slotMs: publishedAtMs,
  publishedAtMs,
  state,
});

const ENTRY = { task: 'tsbeat_test.record', schedule: 1 };

/** What an entry's runs leave in Redis besides its definition: its history, summary, failure count, pending mark. */
async function traces(client: Redis, keys: SchedulerKeys, entry: string): Promise<unknown[]> {
  return [
    await client.exists(keys.runs(entry)),
    await client.hget(keys.runsFinished, entry),
    await client.hget(keys.failures, entry),
    await client.sismember(keys.runsPending, entry),
  ];
}
const NO_TRACES = [0, null, null, 0];

/** A FAILURE as a Celery worker stores it in a Redis result backend (celery-task-meta-<id>). */
const failureMeta = (taskId: string): string =>
  JSON.stringify({
    status: 'FAILURE',
    result: { exc_type: 'ValueError', exc_message: ['boom'], exc_module: 'builtins' },
    traceback: 'Traceback (most recent call last):\nValueError: boom\n',
    children: [],
    date_done: '2026-01-01T00:00:01.000000',
    task_id: taskId,
  });

describe('run histories in Redis (run-history.lua)', () => {
  let server: PrivateRedis;
  let client: Redis;

  beforeAll(async () => {
    server = await startPrivateRedis();
    client = server.client(0);
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
  });

  it('keeps the newest runs up to the length, records a run once, and lists them newest first', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('hist'));
    const history = new RedisRunHistory(client, keys, 3);
    await history.recordPublished([1, 2, 3, 4].map((i) => ({ entry: 'e', record: run(`id${i}`, i) })));
    await history.recordPublished([{ entry: 'e', record: run('id4', 4) }]);
    expect((await history.list('e', 10)).map((r) => r.taskId)).toEqual(['id4', 'id3', 'id2']);
    expect(await client.llen(keys.runs('e'))).toBe(3);
    expect((await history.latest(['e', 'none'])).get('e')?.taskId).toBe('id4');
  });

  it('never replaces a final state, and keeps an entry in the pending set exactly while a run of it is not final', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('hist'));
    const history = new RedisRunHistory(client, keys);
    await history.recordPublished([
      { entry: 'a', record: run('a1', 1) },
      { entry: 'a', record: run('a2', 2) },
      { entry: 'b', record: run('b1', 1) },
    ]);
    expect((await client.smembers(keys.runsPending)).sort()).toEqual(['a', 'b']);
    await history.update('a', { ...run('a1', 1), state: 'SUCCESS', finishedAtMs: 5, runtimeMs: 4 });
    expect(await client.sismember(keys.runsPending, 'a')).toBe(1);
    await history.update('a', { ...run('a2', 2), state: 'FAILURE', exception: 'E: x' });
    expect(await client.sismember(keys.runsPending, 'a')).toBe(0);
    // A late STARTED (a leader that had not seen the end) does not undo the FAILURE.
    await history.update('a', { ...run('a2', 2), state: 'STARTED' });
    expect((await history.list('a', 10)).map((r) => r.state)).toEqual(['FAILURE', 'SUCCESS']);
    // A run no longer in the history is not written back.
    await history.update('b', run('gone', 0, 'SUCCESS'));
    expect((await history.list('b', 10)).map((r) => r.taskId)).toEqual(['b1']);
    expect(await history.pending()).toEqual([{ entry: 'b', record: run('b1', 1) }]);
  });

  it('lets a SUCCESS or FAILURE replace a REVOKED (Celery 5.6 stores REVOKED at the revoke), and nothing else replace a final state', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('hist'));
    const history = new RedisRunHistory(client, keys);
    await history.recordPublished([
      { entry: 'c', record: run('c1', 1) },
      { entry: 'c', record: run('c2', 2) },
    ]);
    await history.update('c', { ...run('c1', 1), state: 'REVOKED', finishedAtMs: 3, exception: 'TaskRevokedError: revoked' });
    await history.update('c', { ...run('c2', 2), state: 'REVOKED', finishedAtMs: 3 });
    // The run went on and ended: its end stands, and counts (the finished summary's last success).
    await history.update('c', { ...run('c1', 1), state: 'SUCCESS', finishedAtMs: 9, runtimeMs: 8 });
    // A REVOKED is not replaced by unknown, nor a SUCCESS by a late REVOKED.
    await history.update('c', { ...run('c2', 2), state: 'unknown', finishedAtMs: 10 });
    await history.update('c', { ...run('c1', 1), state: 'REVOKED', finishedAtMs: 11 });
    expect((await history.list('c', 10)).map((r) => [r.taskId, r.state, r.exception])).toEqual([
      ['c2', 'REVOKED', undefined],
      ['c1', 'SUCCESS', undefined],
    ]);
    expect((await history.finished(['c'])).get('c')?.lastSuccessMs).toBe(9);
  });

  it("keeps each entry's finished runs at a glance: the last to finish, the last success and failure, the failure streak", async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('hist'));
    const history = new RedisRunHistory(client, keys, 2);
    await history.recordPublished([1, 2, 3, 4].map((i) => ({ entry: 'e', record: run(`r${i}`, i * 1000) })));
    expect(await history.finished(['e'])).toEqual(new Map());
    await history.update('e', { ...run('r3', 3000), state: 'SUCCESS', finishedAtMs: 3500, runtimeMs: 500 });
    // r4 finishes before r3 did: r3 stays the last finished; r4's failure is still counted.
    await history.update('e', { ...run('r4', 4000), state: 'FAILURE', finishedAtMs: 3400, exception: 'ValueError: boom' });
    let glance = (await history.finished(['e', 'none'])).get('e');
    expect(glance).toEqual({
      last: { ...run('r3', 3000), state: 'SUCCESS', finishedAtMs: 3500, runtimeMs: 500 },
      lastSuccessMs: 3500,
      lastFailureMs: 3400,
      failureStreak: 1,
    });
    await history.recordPublished([5, 6, 7].map((i) => ({ entry: 'e', record: run(`r${i}`, i * 1000) })));
    await history.update('e', { ...run('r6', 6000), state: 'FAILURE', finishedAtMs: 6100, exception: 'KeyError: k' });
    await history.update('e', { ...run('r7', 7000), state: 'REVOKED', finishedAtMs: 7100 });
    glance = (await history.finished(['e'])).get('e');
    // The success has left the two-run history; its time has not.
    expect((await history.list('e', 10)).some((r) => r.state === 'SUCCESS')).toBe(false);
    expect(glance).toEqual({
      last: { ...run('r7', 7000), state: 'REVOKED', finishedAtMs: 7100 },
      lastSuccessMs: 3500,
      lastFailureMs: 6100,
      failureStreak: 2,
    });
  });

  it('takes a run final at its first write (given up or finished before it) into the summary and out of the pending set, as an update would', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('hist'));
    const history = new RedisRunHistory(client, keys, 5);
    const failed = { ...run('f1', 1000), state: 'FAILURE' as const, finishedAtMs: 1500, exception: 'ValueError: boom' };
    const givenUp = { ...run('u1', 2000), state: 'unknown' as const, finishedAtMs: 2500, exception: 'no longer followed' };
    await history.recordPublished([
      { entry: 'f', record: failed },
      { entry: 'u', record: givenUp },
      { entry: 'p', record: run('p1', 3000) },
    ]);
    expect(await client.smembers(keys.runsPending)).toEqual(['p']);
    expect((await history.finished(['f'])).get('f')).toEqual({ last: failed, lastFailureMs: 1500, failureStreak: 1 });
    expect((await history.finished(['u'])).get('u')).toEqual({ last: givenUp, failureStreak: 0 });
    // A second push of the same run changes nothing: not pushed twice, the failure not counted again.
    await history.recordPublished([{ entry: 'f', record: failed }]);
    expect(await history.list('f', 10)).toEqual([failed]);
    expect(await client.hget(keys.failures, 'f')).toBe('1');
  });

  it('a failure count something else wrote (a word, a fraction, past 64 bits) counts afresh from this failure, and the other runs of the batch are written', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('hist'));
    const history = new RedisRunHistory(client, keys, 5);
    const garbled = ['many', '2.5', ' 3', '99999999999999999999'];
    for (const [i, text] of garbled.entries()) await client.hset(keys.failures, `g${i}`, text);
    const failed = (entry: string, id: string) => ({
      entry,
      record: { ...run(id, 1000), state: 'FAILURE' as const, finishedAtMs: 1500, exception: 'ValueError: boom' },
    });
    await history.recordPublished([...garbled.map((_, i) => failed(`g${i}`, `g${i}-1`)), failed('plain', 'p-1')]);
    for (const [i, text] of garbled.entries()) expect(await client.hget(keys.failures, `g${i}`), text).toBe('1');
    expect(await client.hget(keys.failures, 'plain')).toBe('1');
    expect((await history.latest(['plain'])).get('plain')?.taskId).toBe('p-1');
  });

  it("a history key of another type costs its entry alone: its run is refused and the key named, the others' are written", async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('hist'));
    await client.set(keys.runs('x'), 'not a list');
    const history = new RedisRunHistory(client, keys);
    await history.recordPublished([
      { entry: 'ok', record: run('1', 1) },
      { entry: 'x', record: run('2', 2) },
    ]);
    expect(await client.get(keys.runs('x'))).toBe('not a list');
    expect((await history.latest(['ok', 'x'])).get('ok')?.taskId).toBe('1');
    expect(history.faults()).toEqual([expect.stringMatching(/key .*runs:x holds a string, where tsbeat keeps a list.*DEL .*runs:x/)]);
    // Removed as the message says: read again, it is no longer named.
    await client.del(keys.runs('x'));
    await history.latest(['x']);
    expect(history.faults()).toEqual([]);
  });

  it('writes nothing for a run whose store entry was deleted or created again since its revision; an edit keeps its outcomes', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('hist'));
    const store = new RedisEntryStore(client, keys);
    const history = new RedisRunHistory(client, keys);
    const revision = async (): Promise<string> => String((await store.get('x'))!.version);
    await store.write([{ op: 'put', name: 'x', entry: ENTRY }], { nowMs: 1000 });
    const first = await revision();
    await history.recordPublished([{ entry: 'x', record: run('a1', 1), revision: first }]);
    // An edit: the run published under the first definition still gets its outcome.
    await store.write([{ op: 'put', name: 'x', entry: { ...ENTRY, args: [1] } }], { nowMs: 2000 });
    const edited = await revision();
    expect(edited).not.toBe(first);
    await history.update('x', { ...run('a1', 1), state: 'FAILURE', finishedAtMs: 5, exception: 'E: x' }, first);
    await history.recordPublished([{ entry: 'x', record: run('a2', 2), revision: edited }]);
    expect((await history.list('x', 10)).map((r) => `${r.taskId} ${r.state}`)).toEqual(['a2 PENDING', 'a1 FAILURE']);
    expect(await client.hget(keys.failures, 'x')).toBe('1');

    // Deleted: the delete removes what it owns, and nothing of a run published before comes back.
    await store.write([{ op: 'delete', name: 'x' }], { nowMs: 3000 });
    expect(await traces(client, keys, 'x')).toEqual(NO_TRACES);
    await history.recordPublished([{ entry: 'x', record: run('a3', 3), revision: edited }]);
    await history.update('x', { ...run('a2', 2), state: 'FAILURE', finishedAtMs: 6, exception: 'E: x' }, edited);
    expect(await traces(client, keys, 'x')).toEqual(NO_TRACES);

    // Created again: the old incarnation's runs stay out of the new one's history; its own go in.
    await store.write([{ op: 'put', name: 'x', entry: ENTRY }], { nowMs: 4000 });
    const recreated = await revision();
    await history.recordPublished([{ entry: 'x', record: run('a4', 4), revision: edited }]);
    expect(await traces(client, keys, 'x')).toEqual(NO_TRACES);
    await history.recordPublished([{ entry: 'x', record: run('b1', 5), revision: recreated }]);
    expect((await history.list('x', 10)).map((r) => r.taskId)).toEqual(['b1']);
    expect(await client.sismember(keys.runsPending, 'x')).toBe(1);
  });

  it("fences an '@' revision (RedBeat, django) by the incarnation its stored state belongs to", async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('hist'));
    const history = new RedisRunHistory(client, keys);
    // States as the publish script leaves them (entry-state-codec.ts: g is the incarnation).
    await client.hset(keys.state, 'rb', '{"slot":1,"at":1,"id":"r1","g":"r100","n":1}');
    await history.recordPublished([{ entry: 'rb', record: run('r1', 1), revision: '@r100' }]);
    expect((await history.list('rb', 10)).map((r) => r.taskId)).toEqual(['r1']);
    // Created again (a newer incarnation's state): the older one's run is not written.
    await client.hset(keys.state, 'rb', '{"slot":2,"at":2,"id":"r9","g":"r200","n":1}');
    await history.recordPublished([{ entry: 'rb', record: run('r2', 2), revision: '@r100' }]);
    await history.update('rb', { ...run('r1', 1), state: 'SUCCESS', finishedAtMs: 3 }, '@r100');
    // No state at all (its state removed): not written either.
    await client.hset(keys.state, 'gone', '{"slot":1,"at":1,"id":"g1","g":"d7","n":1}');
    await client.hdel(keys.state, 'gone');
    await history.recordPublished([{ entry: 'gone', record: run('g1', 1), revision: '@d7' }]);
    expect((await history.list('rb', 10)).map((r) => `${r.taskId} ${r.state}`)).toEqual(['r1 PENDING']);
    expect(await client.hget(keys.runsFinished, 'rb')).toBeNull();
    expect(await traces(client, keys, 'gone')).toEqual(NO_TRACES);
  });

  it("leaves no history, summary or failure count of an entry deleted while its run's outcome is in flight", async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('hist'));
    const store = new RedisEntryStore(client, keys);
    await store.write(
      [
        { op: 'put', name: 'x', entry: ENTRY },
        { op: 'put', name: 'kept', entry: ENTRY },
      ],
      { nowMs: 1000 },
    );
    const revisionOf = async (name: string): Promise<string> => String((await store.get(name))!.version);
    const tracker = new OutcomeTracker({
      history: new RedisRunHistory(client, keys),
      results: new RedisResultReader(client, undefined),
      events: { finished: () => undefined },
      logger: createLogger({ level: 'silent' }),
      clock: { now: () => Date.now() },
      timeoutMs: 60_000,
      pollMs: 50,
      recordDelayMs: 200,
    });
    await tracker.start();
    try {
      // Published, not yet recorded (the tracker records a burst once, after recordDelayMs)...
      tracker.published('x', 'in-flight', 1000, Date.now(), undefined, await revisionOf('x'));
      tracker.published('kept', 'kept-run', 1000, Date.now(), undefined, await revisionOf('kept'));
      // ...and x is deleted; then the workers' FAILUREs land in the result backend.
      await store.write([{ op: 'delete', name: 'x' }], { nowMs: 2000 });
      await client.set('celery-task-meta-in-flight', failureMeta('in-flight'));
      await client.set('celery-task-meta-kept-run', failureMeta('kept-run'));
      await waitUntil(
        'both FAILUREs read',
        () => (tracker.unfinishedRun('x') === undefined && tracker.unfinishedRun('kept') === undefined ? true : undefined),
        5000,
      );
      await tracker.poll();
    } finally {
      await tracker.stop();
    }
    expect(await traces(client, keys, 'x')).toEqual(NO_TRACES);
    // The entry that stayed has all of them: the tracker did write what it read.
    const kept = await traces(client, keys, 'kept');
    expect([kept[0], kept[2], kept[3]]).toEqual([1, '1', 0]);
    expect(JSON.parse(kept[1] as string)).toMatchObject({ fail: expect.any(Number) });
  });
});
