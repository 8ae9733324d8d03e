/**
 * A slot's next attempt (issue 70) is added to the retries zset by lua/run-history.lua in the same
 * step as the outcome that calls for it, on a private redis-server: once per (entry, slot, attempt)
 * however often the outcome is written, never for a record already final, an entry deleted since
 * its publish, a success or a run revoked for the next slot; and read back due first.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RetryPolicy } from '../../src/core/retry.js';
import type { RunRecord } from '../../src/ports/outcomes.js';
import { attemptTaskId } from '../../src/celery/task-id.js';
import { nextAttempt } from '../../src/runtime/attempt-end.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { RedisRunHistory } from '../../src/redis/run-history-store.js';
import { RedisEntryStore } from '../../src/redis/entry-store.js';
import { startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const POLICY: RetryPolicy = { attempts: 3, initialMs: 30_000, factor: 2, maxMs: 600_000, on: ['failure', 'lost'] };
const SLOT_ID = '6f0e5a4c-1d2b-5c3a-9e8f-0a1b2c3d4e5f';
const published: RunRecord = { taskId: SLOT_ID, slotMs: 1_000_000, publishedAtMs: 1_000_000, state: 'PENDING' };
const failed = (r: RunRecord, at: number): RunRecord => ({ ...r, state: 'FAILURE', finishedAtMs: at, exception: 'ValueError: boom' });

describe('pending attempts in Redis (run-history.lua, retries zset)', () => {
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

  const historyOf = (keys: ReturnType<typeof schedulerKeys>) =>
    new RedisRunHistory(client, keys, undefined, undefined, { next: (entry, record) => nextAttempt(entry, record, POLICY, 0) });

  it('adds the next attempt with the FAILURE that calls for it, once, and the attempt after it with its own failure', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('retry'));
    const history = historyOf(keys);
    await history.recordPublished([{ entry: 'nightly', record: published }]);
    expect(await client.exists(keys.retries)).toBe(0);
    const end = failed(published, 1_005_000);
    await history.update('nightly', end);
    // A second write of the same outcome (a leader that took over, a reply lost) changes nothing.
    await history.update('nightly', end);
    const second = attemptTaskId(SLOT_ID, 2);
    expect(await history.dueRetries(1_034_999, 10)).toEqual([]);
    expect(await history.dueRetries(1_035_000, 10)).toEqual([
      { entry: 'nightly', slotMs: 1_000_000, attempt: 2, taskId: second, retryOf: SLOT_ID, dueMs: 1_035_000 },
    ]);
    expect(await client.zcard(keys.retries)).toBe(1);
    // Not due yet, it is still pending: what a leader that takes over counts as the entry's run in progress.
    expect((await history.pendingAttempts(10)).map((r) => [r.entry, r.taskId, r.dueMs])).toEqual([['nightly', second, 1_035_000]]);
    // Attempt 2 is published (the publish removes its member) and fails: attempt 3 after 60 s; attempt 3's failure is the last.
    await client.zrem(keys.retries, (await client.zrange(keys.retries, '0', '-1'))[0]!);
    const attempt2: RunRecord = {
      taskId: second,
      slotMs: 1_000_000,
      publishedAtMs: 1_035_000,
      state: 'PENDING',
      attempt: 2,
      retryOf: SLOT_ID,
    };
    await history.recordPublished([{ entry: 'nightly', record: attempt2 }]);
    await history.update('nightly', failed(attempt2, 1_040_000));
    expect(await history.dueRetries(Number.MAX_SAFE_INTEGER, 10)).toEqual([
      { entry: 'nightly', slotMs: 1_000_000, attempt: 3, taskId: attemptTaskId(SLOT_ID, 3), retryOf: SLOT_ID, dueMs: 1_100_000 },
    ]);
    await client.del(keys.retries);
    const attempt3: RunRecord = { ...attempt2, taskId: attemptTaskId(SLOT_ID, 3), attempt: 3 };
    await history.recordPublished([{ entry: 'nightly', record: attempt3 }]);
    await history.update('nightly', failed(attempt3, 1_200_000));
    expect(await client.exists(keys.retries)).toBe(0);
    // The history shows the slot's attempts, newest first.
    expect((await history.list('nightly', 10)).map((r) => [r.attempt ?? 1, r.state])).toEqual([
      [3, 'FAILURE'],
      [2, 'FAILURE'],
      [1, 'FAILURE'],
    ]);
  });

  it('adds none for a success, a run revoked for the next slot, a record already final, or a run lost before its first write', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('retry'));
    const history = historyOf(keys);
    const ids = ['a', 'b', 'c'].map((x) => `${x}${SLOT_ID.slice(1)}`);
    await history.recordPublished(ids.map((taskId) => ({ entry: 'e', record: { ...published, taskId } })));
    await history.update('e', { ...published, taskId: ids[0]!, state: 'SUCCESS', finishedAtMs: 2 });
    await history.update('e', { ...failed({ ...published, taskId: ids[1]! }, 3), revokedBy: 'cancelOther' });
    await history.update('e', { ...published, taskId: ids[2]!, state: 'REVOKED', finishedAtMs: 4 });
    await history.update('e', failed({ ...published, taskId: ids[2]! }, 5));
    expect(await client.exists(keys.retries)).toBe(0);
    // A run given up as lost before its first write is pushed final: its next attempt comes with it.
    const lost: RunRecord = { ...published, taskId: `d${SLOT_ID.slice(1)}`, state: 'unknown', finishedAtMs: 7, lost: true };
    await history.recordPublished([{ entry: 'e', record: lost }]);
    expect((await history.dueRetries(Number.MAX_SAFE_INTEGER, 10)).map((r) => [r.retryOf, r.attempt, r.dueMs])).toEqual([
      [lost.taskId, 2, 30_007],
    ]);
  });

  it('adds none for a run whose entry was deleted since its publish (the entry fence)', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('retry'));
    const store = new RedisEntryStore(client, keys);
    await store.write([{ op: 'put', name: 'gone', entry: { task: 't', schedule: 1 } }], { nowMs: 1000 });
    const revision = String((await store.get('gone'))!.version);
    const history = historyOf(keys);
    await history.recordPublished([{ entry: 'gone', record: published, revision }]);
    await store.write([{ op: 'delete', name: 'gone' }], { nowMs: 2000 });
    await history.update('gone', failed(published, 1_005_000), revision);
    expect(await client.exists(keys.retries)).toBe(0);
  });

  it('a retries key something else wrote stops only the writes that schedule an attempt: a deployment that retries nothing keeps its histories', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('retry'));
    await client.set(keys.retries, 'not a zset');
    const plain = new RedisRunHistory(client, keys);
    await plain.recordPublished([{ entry: 'nightly', record: published }]);
    await plain.update('nightly', failed(published, 1_005_000));
    expect((await plain.list('nightly', 5)).map((r) => r.state)).toEqual(['FAILURE']);
    // One that schedules an attempt is refused whole, naming the key.
    const retrying = historyOf(keys);
    const other: RunRecord = { ...published, taskId: attemptTaskId(SLOT_ID, 1), slotMs: 2_000_000 };
    await retrying.recordPublished([{ entry: 'weekly', record: other }]);
    await expect(retrying.update('weekly', failed(other, 2_005_000))).rejects.toThrow(/retries/);
  });
});
