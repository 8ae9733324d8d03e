/**
 * lua/group-wait.lua through WaitingStore on a private redis-server (issue 70's concurrency groups):
 * a waiting run takes its slot in the entry's state (as a publish would: the slot, the time, the
 * task id, the count, the first sighting kept) and its member in the waiting zset in one step; a
 * slot taken already is stale and writes nothing, as does a run whose entry fence refuses; nothing
 * is written when fenced, stopped, or when a key holds another type; retry-fenced.lua then publishes
 * the member once (the waiting zset as its KEYS[5]).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEntryState } from '../../src/redis/entry-state-codec.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { retryFencedKeys, withScripts } from '../../src/redis/scripts.js';
import { encodeRun } from '../../src/redis/run-history-codec.js';
import { encodeWaitingMember } from '../../src/redis/waiting-codec.js';
import { WaitingStore } from '../../src/redis/waiting-store.js';
import type { WaitingRun } from '../../src/ports/waiting-runs.js';
import { startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TOKEN = 'token-1';

function run(entry: string, slotMs: number, revision?: string): WaitingRun {
  return {
    group: 'g',
    entry,
    slotMs,
    taskId: `id-${entry}-${slotMs}`,
    untilMs: slotMs + 60_000,
    ...(revision === undefined ? {} : { revision }),
  };
}

describe('runs made to wait for their concurrency group (group-wait.lua)', () => {
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

  const setUp = async () => {
    const keys = schedulerKeys('tsbeat', uniqueName('gw'));
    await client.set(keys.fence, TOKEN);
    return { keys, store: new WaitingStore(client, keys, 60_000) };
  };

  it('takes the slot in the state and adds the member, once; a slot taken already is stale', async () => {
    const { keys, store } = await setUp();
    await client.hset(keys.state, 'a', JSON.stringify({ slot: 1000, seen: 500, at: 1001, id: 'old', n: 4 }));
    expect(await store.wait([run('a', 2000), run('b', 2000)], TOKEN, 2005)).toEqual(['waits', 'waits']);
    expect(readEntryState(await client.hget(keys.state, 'a'))).toMatchObject({
      slotMs: 2000,
      seenMs: 500,
      publishedAtMs: 2005,
      lastTaskId: 'id-a-2000',
      runCount: 5,
    });
    expect(readEntryState(await client.hget(keys.state, 'b'))).toMatchObject({ slotMs: 2000, runCount: 1 });
    const members = await client.zrange(keys.waiting, '0', '-1', 'WITHSCORES');
    expect(members).toEqual([encodeWaitingMember(run('a', 2000)), '2000', encodeWaitingMember(run('b', 2000)), '2000']);
    // Again, or an older slot: the state has it; nothing changes.
    expect(await store.wait([run('a', 2000), run('a', 1500)], TOKEN, 2010)).toEqual(['stale', 'stale']);
    expect(await client.zcard(keys.waiting)).toBe(2);
    expect(readEntryState(await client.hget(keys.state, 'a'))).toMatchObject({ runCount: 5, publishedAtMs: 2005 });
    // Read in slot order, decoded.
    expect((await store.waiting(10)).map((w) => w.run?.entry)).toEqual(['a', 'b']);
  });

  it('refuses a run whose entry changed since it was read (the record fence), writing nothing', async () => {
    const { keys, store } = await setUp();
    await client.hset(keys.entries, 'r', JSON.stringify({ v: 7, d: {} }));
    expect(await store.wait([run('r', 3000, '6')], TOKEN, 3001)).toEqual(['superseded']);
    expect(await client.hget(keys.state, 'r')).toBeNull();
    expect(await client.zcard(keys.waiting)).toBe(0);
  });

  it("refuses slots ahead of Redis's clock by more than the skew allowed, writing nothing", async () => {
    const { keys, store } = await setUp();
    const far = Date.now() + 3_600_000;
    const reply = await store.wait([run('a', 1000), run('b', far)], TOKEN, 1001);
    expect(reply).toMatchObject({ ahead: { slotMs: far } });
    expect(await client.hget(keys.state, 'a')).toBeNull();
    expect(await client.zcard(keys.waiting)).toBe(0);
  });

  it('writes nothing when fenced or stopped, and names a waiting key of another type before writing', async () => {
    const { keys, store } = await setUp();
    expect(await store.wait([run('a', 1000)], 'not-the-token', 1001)).toBe('fenced');
    await client.set(keys.stop, JSON.stringify({ by: 'ops', atMs: 1, note: '' }));
    expect(await store.wait([run('a', 1000)], TOKEN, 1001)).toBe('stopped');
    await client.del(keys.stop);
    await client.set(keys.waiting, 'x');
    await expect(store.wait([run('a', 1000)], TOKEN, 1001)).rejects.toThrow(keys.waiting);
    expect(await client.hget(keys.state, 'a')).toBeNull();
  });

  it('is published once from the waiting zset by retry-fenced.lua', async () => {
    const { keys, store } = await setUp();
    await store.wait([run('a', 4000)], TOKEN, 4001);
    const member = encodeWaitingMember(run('a', 4000));
    const queue = `${keys.waiting}:q`;
    const record = encodeRun({ taskId: 'id-a-4000', slotMs: 4000, publishedAtMs: 4002, state: 'PENDING' });
    const publish = () =>
      withScripts(client).retryFenced(
        8,
        ...retryFencedKeys(keys, 'a', 'waiting'),
        queue,
        TOKEN,
        member,
        '1',
        '0',
        '',
        record,
        '20',
        '8',
        'payload',
      );
    expect(await publish()).toBe(1);
    expect(await publish()).toBe(0);
    expect(await client.lrange(queue, 0, -1)).toEqual(['payload']);
    // Its PENDING record went with it, in the same step: a leader killed now leaves it to the next.
    expect(await client.lrange(keys.runs('a'), 0, -1)).toEqual([record]);
    expect(await client.smembers(keys.runsPending)).toEqual(['a']);
    expect(await client.zcard(keys.waiting)).toBe(0);
  });
});
