/**
 * lua/run-history.lua through RedisRunHistory, on a private redis-server: bounded histories, a run
 * recorded once, a final state never replaced, the pending set kept with the histories, and a key
 * of another type refused before anything is written.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/ports/outcomes.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { RedisRunHistory } from '../../src/redis/run-history-store.js';
import { startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const run = (taskId: string, publishedAtMs: number, state: RunRecord['state'] = 'PENDING'): RunRecord => ({
  taskId,
  slotMs: publishedAtMs,
  publishedAtMs,
  state,
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

  it('refuses a history key of another type before writing anything', async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('hist'));
    await client.set(keys.runs('x'), 'not a list');
    const history = new RedisRunHistory(client, keys);
    await expect(
      history.recordPublished([
        { entry: 'ok', record: run('1', 1) },
        { entry: 'x', record: run('2', 2) },
      ]),
    ).rejects.toThrow(/WRONGTYPE run-history: .*runs:x holds a string, not a list; nothing was written/);
    expect(await client.exists(keys.runs('ok'), keys.runsPending)).toBe(0);
  });
});
