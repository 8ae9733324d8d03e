/**
 * The dead-letter list as lua/run-history.lua keeps it (issue 70), through RedisRunHistory on a
 * private redis-server: a final outcome with a dead letter adds it in the same step, once per
 * (entry, slot) even when two leaders write that outcome (or one writes it again after a failover);
 * the bound in items and in bytes drops the oldest first and says how many; a dead-letter key of
 * another type refuses the write before anything is written, while a deployment that keeps no dead
 * letters is not stopped by one.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterId } from '../../src/celery/task-id.js';
import type { DeadLetter, RunRecord } from '../../src/ports/outcomes.js';
import { decodeDeadLetter, encodeDeadLetter } from '../../src/redis/dead-letter-codec.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { RedisRunHistory } from '../../src/redis/run-history-store.js';
import type { DeadLettering } from '../../src/redis/run-history-store.js';
import { deadLetterOf } from '../../src/runtime/attempt-end.js';
import { startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const POLICY = { attempts: 1, initialMs: 1000, factor: 2, maxMs: 1000, on: ['failure', 'lost'] as const };

/** A slot's run that failed (its only attempt), with a UUID for its task id as the slots' are. */
function failed(slot: number): RunRecord {
  const id = `00000000-0000-4000-8000-${String(slot).padStart(12, '0')}`;
  return {
    taskId: id,
    slotMs: slot * 1000,
    publishedAtMs: slot * 1000,
    state: 'FAILURE',
    finishedAtMs: slot * 1000 + 500,
    exception: 'ValueError: boom',
  };
}

/** The dead-lettering a leader wires (service/outcomes-part.ts), with what it was told. */
function lettering(maxItems = 1000, maxBytes = 1 << 20) {
  const told: { lettered: string[]; bounded: [number, number][] } = { lettered: [], bounded: [] };
  const wiring: DeadLettering = {
    of: (entry, record, revision) => deadLetterOf(entry, record, POLICY, true, 0, revision),
    maxItems,
    maxBytes,
    lettered: (_entry, _record, letter: DeadLetter) => told.lettered.push(letter.id),
    bounded: (dropped, size) => told.bounded.push([dropped, size]),
  };
  return { wiring, told };
}

describe('the dead-letter list in Redis (run-history.lua)', () => {
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

  it("adds a slot's dead letter with its outcome, once, however many leaders write that outcome", async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('dl'));
    const one = lettering();
    const two = lettering();
    const a = new RedisRunHistory(client, keys, 20, undefined, undefined, one.wiring);
    const b = new RedisRunHistory(client, keys, 20, undefined, undefined, two.wiring);
    const record = failed(1);
    await a.recordPublished([{ entry: 'job', record: { ...record, state: 'PENDING', finishedAtMs: undefined, exception: undefined } }]);
    // The old leader and the new one both write the FAILURE (a failover mid-step); then the same again.
    await a.recordChanges([{ entry: 'job', record }]);
    await b.recordChanges([{ entry: 'job', record }]);
    await a.recordChanges([{ entry: 'job', record }]);
    const id = deadLetterId('job', record.taskId);
    expect(await client.zrange(keys.deadLetters, '0', '-1')).toEqual([id]);
    const stored = decodeDeadLetter((await client.hget(keys.deadLetterItems, id)) ?? '');
    expect(stored).toEqual({
      id,
      entry: 'job',
      slotMs: 1000,
      taskId: record.taskId,
      retryOf: record.taskId,
      attempts: 1,
      end: 'failure',
      exception: 'ValueError: boom',
      atMs: 1500,
    });
    expect([...one.told.lettered, ...two.told.lettered]).toEqual([id]);
    expect(one.told.bounded).toEqual([[0, 1]]);
    // A success keeps nothing.
    await a.recordPublished([{ entry: 'job', record: { ...failed(2), state: 'SUCCESS' } }]);
    expect(await client.zcard(keys.deadLetters)).toBe(1);
  });

  it('drops the oldest first past the bound in items, and in bytes, and says how many', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('dl-bound'));
    const byCount = lettering(2);
    const history = new RedisRunHistory(client, keys, 20, undefined, undefined, byCount.wiring);
    for (const slot of [1, 2, 3]) await history.recordPublished([{ entry: 'job', record: failed(slot) }]);
    const kept = (await client.zrange(keys.deadLetters, '0', '-1')).sort();
    expect(kept).toEqual([deadLetterId('job', failed(2).taskId), deadLetterId('job', failed(3).taskId)].sort());
    expect(await client.hlen(keys.deadLetterItems)).toBe(2);
    expect(byCount.told.bounded).toEqual([
      [0, 1],
      [0, 2],
      [1, 2],
    ]);

    // A bound of two and a half items' bytes keeps two, then drops the oldest of three.
    const itemBytes = encodeDeadLetter(deadLetterOf('job', failed(1), POLICY, true, 0)!).length;
    const bound = Math.floor(itemBytes * 2.5);
    const bytesKeys = schedulerKeys('tsbeat', uniqueName('dl-bytes'));
    const byBytes = lettering(1000, bound);
    const sized = new RedisRunHistory(client, bytesKeys, 20, undefined, undefined, byBytes.wiring);
    for (const slot of [1, 2, 3]) await sized.recordPublished([{ entry: 'job', record: failed(slot) }]);
    const sizes = await Promise.all(
      (await client.zrange(bytesKeys.deadLetters, '0', '-1')).map((id) => client.hstrlen(bytesKeys.deadLetterItems, id)),
    );
    expect(sizes).toHaveLength(2);
    expect(sizes.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(bound);
    expect(await client.zrange(bytesKeys.deadLetters, '0', '-1')).not.toContain(deadLetterId('job', failed(1).taskId));
    expect(byBytes.told.bounded.reduce((n, [dropped]) => n + dropped, 0)).toBe(1);
  });

  it('reports as added only the dead letters still held after the bound of the same step', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('dl-same-step'));
    const one = lettering(1);
    const history = new RedisRunHistory(client, keys, 20, undefined, undefined, one.wiring);
    // Two in one step over a bound of one: the older is added and dropped at once.
    await history.recordPublished([
      { entry: 'job', record: failed(1) },
      { entry: 'job', record: failed(2) },
    ]);
    const kept = deadLetterId('job', failed(2).taskId);
    expect(await client.zrange(keys.deadLetters, '0', '-1')).toEqual([kept]);
    expect(one.told.lettered).toEqual([kept]);
    expect(one.told.bounded).toEqual([[1, 1]]);
  });

  it('refuses a dead-letter key of another type before anything is written, and only when a dead letter comes', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('dl-type'));
    await client.set(keys.deadLetters, 'not a zset');
    const history = new RedisRunHistory(client, keys, 20, undefined, undefined, lettering().wiring);
    await expect(history.recordPublished([{ entry: 'job', record: failed(1) }])).rejects.toThrow(/dead-letters holds a string/);
    expect(await client.exists(keys.runs('job'))).toBe(0);
    // A success brings no dead letter: written as before.
    await history.recordPublished([{ entry: 'job', record: { ...failed(2), state: 'SUCCESS' } }]);
    expect(await client.llen(keys.runs('job'))).toBe(1);
  });
});
