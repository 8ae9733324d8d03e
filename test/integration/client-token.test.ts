/**
 * The TypeScript client connected with a token (issue 67): `Entries.connect({ api, token })` against
 * a real `beat run --http --api-token-file` on a private redis-server. A scoped token's limits hold
 * through the client as through /api: its reads show only its scope, a change outside it is refused
 * with the API's code and Redis (read back straight, the oracle) is unchanged, a selection reaching
 * past it is refused whole, a change inside is audited under the token's name with its grant; a
 * read-only token's write and a wrong token are refused. And the same verbs answer and refuse alike
 * through both ways of connecting (Redis and /api).
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { httpPortOf, startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { ConfigError, Entries } from '../../src/index.js';

const TASK = 'tsbeat_test.record';
const DEPLOYMENT = 'client-token';
const keys = schedulerKeys('tsbeat', DEPLOYMENT);

const TOKENS = {
  admin: { line: 'admin', token: 'admin-token-0123456789abcdef' },
  billEdit: { line: 'billing-ci:editor@team=billing', token: 'billedit-token-0123456789abcdef' },
  billView: { line: 'billing-view:viewer@team=billing', token: 'billview-token-0123456789abcdef' },
} as const;

const SEED = {
  'b-one': { task: TASK, schedule: 3600, labels: { team: 'billing' } },
  'b-two': { task: TASK, schedule: 3600, labels: { team: 'billing' } },
  'o-one': { task: TASK, schedule: 3600, labels: { team: 'ops' } },
};

describe('Entries.connect({ api, token }): the token is the boundary', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let url = '';
  let api = '';

  /** Everything a verb could change, read straight from Redis. */
  const snapshot = async (): Promise<Record<string, unknown>> => ({
    entries: await redis.hgetall(keys.entries),
    paused: (await redis.smembers(keys.paused)).sort(),
    stop: await redis.get(keys.stop),
    triggers: await redis.lrange(keys.triggers, 0, -1),
  });
  /** `what` rejects with `code`, and Redis is as it was. */
  const refused = async (what: () => Promise<unknown>, code: string): Promise<void> => {
    const before = await snapshot();
    await expect(what()).rejects.toMatchObject({ name: 'BeatError', code });
    expect(await snapshot()).toEqual(before);
  };
  const connect = (who: keyof typeof TOKENS): Promise<Entries> => Entries.connect({ api, token: TOKENS[who].token });

  beforeAll(async () => {
    server = await startPrivateRedis();
    url = server.url(0);
    redis = new Redis(url);
    const configFile = dir.write(
      'beat.yaml',
      [
        `name: ${DEPLOYMENT}`,
        `broker: { url: "${url}" }`,
        'maxInterval: 5s',
        `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
        'beatSchedule: {}',
        '',
      ].join('\n'),
    );
    const tokenFile = dir.write(
      'tokens',
      Object.values(TOKENS)
        .map((t) => `${t.line}:${t.token}`)
        .join('\n') + '\n',
    );
    const leader = fleet.spawn({ config: configFile, label: 'leader', args: ['--http', '127.0.0.1:0', '--api-token-file', tokenFile] });
    api = `http://127.0.0.1:${await httpPortOf(leader)}`;
    await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
    const admin = await connect('admin');
    try {
      await admin.setMany(SEED);
      // The control verbs act on the entries in force: wait until the leader's catalog holds all three.
      await waitUntil(
        'the three entries in force',
        async () => {
          const status = (await (
            await fetch(`${api}/api/status`, { headers: { authorization: `Bearer ${TOKENS.admin.token}` } })
          ).json()) as {
            entries: unknown[];
          };
          return status.entries.length === 3 ? true : undefined;
        },
        10_000,
        () => fleet.dump(),
      );
    } finally {
      await admin.close();
    }
  });

  afterAll(async () => {
    await fleet.killAll();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it("a scoped editor's token: reads hold its scope, changes outside it are refused whole with Redis unchanged, a change inside is audited under the token", async () => {
    const client = await connect('billEdit');
    try {
      expect((await client.list()).map((e) => e.name)).toEqual(['b-one', 'b-two']);
      expect(await client.list({ limit: 1 })).toHaveLength(1);
      expect((await client.list({ selector: 'team in (billing,ops)' })).map((e) => e.name)).toEqual(['b-one', 'b-two']);
      expect(await client.get('o-one')).toBeUndefined();
      expect(await client.get('b-one')).toMatchObject({ name: 'b-one', entry: SEED['b-one'], createdAt: expect.any(Date) });
      // Another team's entry is answered as one that does not run.
      await expect(client.handle('o-one').history()).rejects.toMatchObject({ code: 'UNKNOWN_ENTRY' });
      expect(await client.handle('b-one').history()).toEqual([]);

      await refused(() => client.set('o-one', { ...SEED['o-one'], schedule: 900 }), 'FORBIDDEN');
      await refused(() => client.set('b-one', { ...SEED['b-one'], labels: { team: 'ops' } }), 'FORBIDDEN');
      await refused(() => client.setMany({ 'b-two': { ...SEED['b-two'], schedule: 60 }, 'o-one': SEED['o-one'] }), 'FORBIDDEN');
      // Another team's entry is absent to the verbs too (as one nothing holds: its labels untold).
      const before = await snapshot();
      expect(await client.delete('o-one')).toBe(false);
      expect(await snapshot()).toEqual(before);
      await refused(() => client.handle('o-one').pause({ note: 'not ours' }), 'UNKNOWN_ENTRY');
      await refused(() => client.handle('o-one').trigger(), 'UNKNOWN_ENTRY');
      // A selection that reaches past the scope changes nothing, not even the billing entries it holds.
      await refused(() => client.selection('team in (billing,ops)').pause(), 'FORBIDDEN');
      await refused(() => client.selection('team!=nobody').trigger(), 'FORBIDDEN');
      await refused(() => client.deployment().pause(), 'FORBIDDEN');
      await refused(() => client.apply('ops', { 'o-one': SEED['o-one'] }), 'FORBIDDEN');

      expect(await client.set('b-one', { ...SEED['b-one'], schedule: 900 }, { note: 'hourly is too slow' })).toBe('updated');
      expect(await client.handle('b-one').pause({ note: 'billing freeze' })).toEqual({ entry: 'b-one', paused: true, changed: true });
      expect(await redis.smembers(keys.paused)).toEqual(['b-one']);
      expect(await client.selection('team=billing').resume({ note: 'thaw' })).toMatchObject({
        entries: ['b-one', 'b-two'],
        paused: false,
      });
      expect(await redis.smembers(keys.paused)).toEqual([]);
      const [resumed, paused, written] = await client.deployment().audit({ limit: 3 });
      expect(resumed).toMatchObject({ who: 'billing-ci', grant: 'editor@team=billing', action: 'resume', note: 'thaw' });
      expect(paused).toMatchObject({
        who: 'billing-ci',
        grant: 'editor@team=billing',
        action: 'pause',
        entry: 'b-one',
        note: 'billing freeze',
      });
      expect(written).toMatchObject({ who: 'billing-ci', grant: 'editor@team=billing', entry: 'b-one', note: 'hourly is too slow' });
      // A trigger inside: the server's answer as the client's TriggerAnswer (one run; a selection's queued for the leader).
      expect(await client.handle('b-one').trigger({ note: 'rerun' })).toMatchObject({ entry: 'b-one', state: 'published' });
      const queued = await client.selection('team=billing').trigger();
      expect(queued.map((r) => [r.entry, r.state])).toEqual([
        ['b-one', 'queued'],
        ['b-two', 'queued'],
      ]);
      expect(queued.every((r) => r.taskId !== '')).toBe(true);
      // Its audit trail holds only its scope's events.
      for (const event of await client.deployment().audit({ limit: 100 })) expect(event.entries ?? [event.entry]).not.toContain('o-one');
    } finally {
      await client.close();
    }
  });

  it('a read-only token reads its scope and its writes are refused; a wrong token is refused at connect', async () => {
    const viewer = await connect('billView');
    try {
      expect((await viewer.list()).map((e) => e.name)).toEqual(['b-one', 'b-two']);
      await refused(() => viewer.set('b-one', SEED['b-one']), 'API_FORBIDDEN');
      await refused(() => viewer.handle('b-one').pause(), 'API_FORBIDDEN');
      await refused(() => viewer.delete('b-two'), 'API_FORBIDDEN');
    } finally {
      await viewer.close();
    }
    await expect(Entries.connect({ api, token: 'not-a-token-0123456789abcdef' })).rejects.toMatchObject({ code: 'API_UNAUTHORIZED' });
    // A server out of reach is what Redis out of reach is: REDIS_UNAVAILABLE, naming why.
    const closed = await new Promise<number>((resolve) => {
      const listener = createServer().listen(0, '127.0.0.1', () => {
        const { port } = listener.address() as AddressInfo;
        listener.close(() => resolve(port));
      });
    });
    await expect(Entries.connect({ api: `http://127.0.0.1:${closed}`, token: TOKENS.admin.token })).rejects.toMatchObject({
      code: 'REDIS_UNAVAILABLE',
      message: expect.stringMatching(/cannot reach the API at http:\/\/127\.0\.0\.1:\d+ .*ECONNREFUSED/),
    });
    await expect(Entries.connect({ api, token: TOKENS.admin.token, grants: 'viewer' })).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringMatching(/grants is an option of the Redis path/),
    });
  });

  it('the same verb answers and refuses alike through Redis and through /api', async () => {
    const direct = await Entries.connect({ url, deployment: DEPLOYMENT });
    const viaApi = await connect('admin');
    try {
      const [a, b] = [direct, viaApi];
      // A pause: EntryPauseAnswer both ways (the second finds it paused already).
      expect(await a.handle('o-one').pause()).toEqual({ entry: 'o-one', paused: true, changed: true });
      expect(await b.handle('o-one').pause()).toEqual({ entry: 'o-one', paused: true, changed: false });
      expect(await b.handle('o-one').resume()).toEqual({ entry: 'o-one', paused: false, changed: true });
      expect(await a.handle('o-one').resume()).toEqual({ entry: 'o-one', paused: false, changed: false });
      // The deployment's stop: StopAnswer both ways.
      const stopped = await b.deployment().pause({ note: 'incident' });
      expect(stopped).toMatchObject({ stopped: { note: 'incident' }, changed: true });
      expect(await a.deployment().stop()).toEqual(await b.deployment().stop());
      expect(await a.deployment().resume()).toMatchObject({ stopped: null, lifted: { note: 'incident' } });
      // A record: the same fields and types.
      expect(await b.get('o-one')).toEqual(await a.get('o-one'));
      expect(await b.list()).toEqual(await a.list());
      // A bad entry: ConfigError ENTRY_INVALID with the same problems, nothing written.
      const bad = { task: TASK, schedule: { cron: '61 * * * *' } };
      const problemsOf = async (client: Entries): Promise<unknown> => {
        const error: unknown = await client.set('bad-one', bad as never).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ConfigError);
        expect(error).toMatchObject({ code: 'ENTRY_INVALID' });
        return (error as ConfigError).problems;
      };
      const before = await snapshot();
      expect(await problemsOf(b)).toEqual(await problemsOf(a));
      expect(await snapshot()).toEqual(before);
      // An unknown entry: UNKNOWN_ENTRY both ways, and a delete of none is false.
      await expect(a.handle('nope').pause()).rejects.toMatchObject({ code: 'UNKNOWN_ENTRY' });
      await expect(b.handle('nope').pause()).rejects.toMatchObject({ code: 'UNKNOWN_ENTRY' });
      expect(await b.delete('nope')).toBe(false);
      expect(await a.delete('nope')).toBe(false);
      // A write through either is seen by the other.
      expect(await b.set('both-ways', { task: TASK, schedule: 600 })).toBe('created');
      expect(await a.set('both-ways', { task: TASK, schedule: 600 })).toBe('unchanged');
      // A write held to the version read (If-Match through the API): ENTRY_CONFLICT both ways once another wrote.
      const read = (await a.get('both-ways'))?.version ?? 0;
      expect(await b.set('both-ways', { task: TASK, schedule: 300 }, { ifVersion: read })).toBe('updated');
      for (const client of [a, b]) {
        await expect(client.set('both-ways', { task: TASK, schedule: 120 }, { ifVersion: read })).rejects.toMatchObject({
          code: 'ENTRY_CONFLICT',
        });
        await expect(client.delete('both-ways', { ifVersion: read })).rejects.toMatchObject({ code: 'ENTRY_CONFLICT' });
      }
      expect((await a.get('both-ways'))?.entry).toEqual({ task: TASK, schedule: 300 });
      expect(await a.set('both-ways', { task: TASK, schedule: 600 }, { ifVersion: (await b.get('both-ways'))?.version ?? 0 })).toBe(
        'updated',
      );
      expect(await b.delete('both-ways')).toBe(true);
      expect(await a.get('both-ways')).toBeUndefined();
    } finally {
      await direct.close();
      await viaApi.close();
    }
  });
});
