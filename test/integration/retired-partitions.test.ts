/**
 * Partitions were retired in 0.3.0 (CHANGELOG.md): a Redis that tsbeat 0.2.x left recording a
 * deployment of more than one partition (its `partitioning` hash, keys.ts), or a move of them under
 * way, is refused at the start of `beat run` and of the commands that open the deployment, exit 2,
 * naming the way back (`beat partitions set 1` with 0.2.x, then upgrade), and nothing is written:
 * the whole keyspace is the same before and after. A recorded count of 1 (what 0.2.x wrote for every
 * deployment it ran) is accepted, and the deployment leads as before.
 * Redis: a private redis-server per case, so that its whole keyspace is this file's to compare.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir } from '../support/beat-process.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { killCliChildren, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';

/** Every key with its type, TTL and value (DUMP), sorted: two equal snapshots mean nothing was written. */
async function keyspace(client: Redis): Promise<string[]> {
  const keys = (await client.keys('*')).sort();
  const out: string[] = [];
  for (const key of keys) {
    const [type, dump] = await Promise.all([client.type(key), client.dumpBuffer(key)]);
    out.push(`${key} ${type} ${dump?.toString('base64') ?? 'null'}`);
  }
  return out;
}

describe('a deployment that tsbeat 0.2.x left partitioned', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  const servers: PrivateRedis[] = [];
  const clients: Redis[] = [];

  afterEach(async () => {
    await fleet.killAll();
    killCliChildren();
    for (const c of clients.splice(0)) c.disconnect();
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });
  afterAll(() => dir.remove());

  /** A private Redis holding the 0.2.x record `fields` and a stored state, and a config over it. */
  async function deployment(fields: Record<string, string>): Promise<{ client: Redis; file: string; name: string }> {
    const server = await startPrivateRedis();
    servers.push(server);
    const client = server.client();
    clients.push(client);
    const name = uniqueName('retired');
    const keys = schedulerKeys('tsbeat', name);
    await client.hset(keys.partitioning, fields);
    await client.hset(keys.state, 'tick', JSON.stringify({ slot: 1_700_000_000_000, seen: 1_700_000_000_000 }));
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: server.url() },
      lock: FAST_LOCK,
      beatSchedule: { tick: { task: 't.tick', schedule: 1 } },
    });
    return { client, file, name };
  }

  it.each([
    ['4 partitions', { count: '4', by: 'ops@host', at: '1700000000000' }, 'recorded in Redis with 4 partitions'],
    [
      'a move from 1 to 4 partitions',
      { count: '1', to: '4', by: 'ops@host', at: '1700000000000' },
      'recorded in Redis with a move from 1 to 4 partitions',
    ],
  ])('with %s: beat run exits 2 at start naming the way back, and writes nothing', async (_what, fields, recorded) => {
    const { client, file, name } = await deployment(fields);
    const before = await keyspace(client);
    const beat = fleet.spawn({ config: file });
    const exit = await beat.waitForExit(15_000);
    expect(exit.code, beat.tail()).toBe(2);
    const said = beat.text.join('\n');
    expect(said).toContain(`deployment "${name}" is ${recorded}`);
    expect(said).toContain('partitions were removed in 0.3.0: one leader per deployment. Nothing was written.');
    expect(said).toContain("run 'beat partitions set 1' with tsbeat 0.2.x, then upgrade");
    expect(beat.events(EVENTS.lockAcquired)).toEqual([]);
    expect(await keyspace(client)).toEqual(before);
  });

  it('with 3 partitions: beat status and beat pause exit 2 with the same words, and write nothing', async () => {
    const { client, file } = await deployment({ count: '3' });
    const before = await keyspace(client);
    for (const argv of [
      ['status', '--config', file],
      ['pause', 'tick', '--config', file],
    ]) {
      const r = await runBeatCli(argv);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain("run 'beat partitions set 1' with tsbeat 0.2.x, then upgrade");
    }
    expect(await keyspace(client)).toEqual(before);
  });

  it('with a recorded count of 1, as 0.2.x wrote for every deployment: beat run leads as before, and leaves the record as it was', async () => {
    const { client, file, name } = await deployment({ count: '1' });
    const beat = fleet.spawn({ config: file });
    await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
    await beat.waitForEvent(EVENTS.fire, 5000);
    expect(await client.hgetall(schedulerKeys('tsbeat', name).partitioning)).toEqual({ count: '1' });
  });
});
