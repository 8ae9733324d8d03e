/**
 * The runtime entries API of `beat run --http` and the TypeScript client (`Entries`), against real
 * `beat run` processes (a leader with the API token, a standby without one) on a private
 * redis-server: every create, edit and delete is applied by the leader within about a second (read
 * from the queues it publishes to, asserted loosely); bad entries are refused with the problems
 * `beat check` names for the same entry in a config file (the oracle: its stderr); writes without
 * the right token change nothing; the other refusals (403, 404, 405, 409, 413, 415, 503).
 */
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigProblem } from '../../src/base/errors.js';
import { ConfigError, ErrorCode } from '../../src/base/errors.js';
import { entryViewSchema } from '../../src/control/entry-view-schema.js';
import { EVENTS } from '../../src/base/log-events.js';
import { Entries } from '../../src/index.js';
import type { EntryInput } from '../../src/index.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { readQueue } from '../support/beat-queue.js';
import type { QueuedRun } from '../support/beat-queue.js';
import { httpPortOf, killCliChildren, runBeatCli, startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { repoRoot } from '../support/cli.js';
import { spawnSync } from 'node:child_process';

const TASK = 'tsbeat_test.record';
const DEPLOYMENT = 'api';
const TOKEN = 'test-token-0123456789abcdef';
const keys = schedulerKeys('tsbeat', DEPLOYMENT);

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  json(): { error?: string; code?: string; problems?: ConfigProblem[]; [key: string]: unknown };
}

/** One request with node:http (a refused upload still yields its response, which fetch may not). */
function call(
  port: number,
  method: string,
  path: string,
  options: { body?: string | Buffer; token?: string | null; type?: string | null; host?: string; chunked?: boolean; ifMatch?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch;
  if (options.token !== null && options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  if (options.body !== undefined && options.type !== null) headers['content-type'] = options.type ?? 'application/json';
  if (options.body !== undefined && options.chunked !== true) headers['content-length'] = String(Buffer.byteLength(options.body));
  return new Promise((resolve, reject) => {
    let settled = false;
    const req = request({ host: options.host ?? '127.0.0.1', port, method, path, headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        settled = true;
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          json: () => JSON.parse(body) as ReturnType<Reply['json']>,
        });
      });
    });
    req.on('error', (error) => {
      if (!settled) setTimeout(() => (settled ? undefined : reject(error)), 200);
    });
    if (options.body !== undefined) req.write(options.body, () => undefined);
    req.end();
  });
}

/** What `beat check` says about each of these entries in a config file, with `beatSchedule.` read as `entries.`. */
async function checkOracle(dir: TempDir, entries: Record<string, unknown>): Promise<Map<string, ConfigProblem[]>> {
  const out = new Map<string, ConfigProblem[]>();
  for (const [name, entry] of Object.entries(entries)) {
    const file = dir.write(`check-${name}.json`, { beatSchedule: { [name]: entry } });
    const run = await runBeatCli(['check', '--config', file]);
    expect(run.code, run.stderr).toBe(2);
    const problems = run.stderr
      .split('\n')
      .slice(1)
      .filter((line) => line.trim() !== '')
      .map((line) => {
        const match = /^ {2}(\S+?)(?: \(line \d+\))?: (.*)$/.exec(line);
        if (match === null) throw new Error(`beat check printed an unexpected line: ${line}`);
        return { path: (match[1] as string).replace(/^beatSchedule\./, 'entries.'), message: match[2] as string };
      });
    expect(problems.length, run.stderr).toBeGreaterThan(0);
    out.set(name, problems);
  }
  return out;
}

const sortProblems = (problems: readonly ConfigProblem[]): ConfigProblem[] =>
  problems.map(({ path, message }) => ({ path, message })).sort((a, b) => (a.path + a.message < b.path + b.message ? -1 : 1));

/** Entries that `beat check` refuses, each for other reasons. */
const BAD_ENTRIES: Record<string, unknown> = {
  'bad-many': { task: 'has space', schedule: { cron: '61 * * * *' }, options: { queue: 5, nope: 1 } },
  'bad-no-schedule': { task: 'x.y' },
  'bad-kinds': { task: 'x.y', schedule: 0.01, args: 'not a list', catchUp: 'sometimes' },
  'bad-crontab': { schedule: { crontab: { minute: 99 } }, kwargs: [] },
  'bad-value': 'just a string',
  // A canvas (docs/canvas.md): a chord header member without a task, named by its path.
  'bad-chain': { schedule: 60, chain: [{ task: 'x.y' }, { chord: { header: [{ args: [] }], body: { task: 'x.z' } } }] },
};

describe('the entries API and the TypeScript client, with a leader and a standby', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let url = '';
  let leader: BeatProcess;
  let standby: BeatProcess;
  let port = 0;
  let standbyPort = 0;
  let configFile = '';

  /** Polls a queue until `count` runs are in it. */
  const runsIn = (queue: string, count: number, timeoutMs = 6000): Promise<QueuedRun[]> =>
    waitUntil(
      `${count} runs in ${queue}`,
      async () => {
        const runs = await readQueue(redis, queue);
        return runs.length >= count ? runs : undefined;
      },
      timeoutMs,
      () => fleet.dump(),
    );

  beforeAll(async () => {
    server = await startPrivateRedis();
    url = server.url(0);
    redis = new Redis(url);
    const file = dir.write(
      'beat.yaml',
      [
        `name: ${DEPLOYMENT}`,
        `broker: { url: "${url}" }`,
        'maxInterval: 5s',
        `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
        'beatSchedule:',
        `  static-one: { task: ${TASK}, schedule: 3600 }`,
        '',
      ].join('\n'),
    );
    configFile = file;
    const tokenFile = dir.write('token', `${TOKEN}\n`);
    leader = fleet.spawn({ config: file, label: 'leader', args: ['--http', '127.0.0.1:0', '--api-token-file', tokenFile] });
    port = await httpPortOf(leader);
    await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
    standby = fleet.spawn({ config: file, label: 'standby', args: ['--http', '127.0.0.1:0'] });
    standbyPort = await httpPortOf(standby);
    await standby.waitForEvent(EVENTS.standby, 10_000);
    await waitUntil(
      'the static names in Redis',
      async () => ((await redis.sismember(keys.statics, 'static-one')) === 1 ? true : undefined),
      5000,
    );
  });

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it('creates, edits and deletes through the API; the leader applies each within about a second', async () => {
    const createdAt = Date.now();
    const created = await call(port, 'PUT', '/api/entries/via-api', {
      token: TOKEN,
      body: JSON.stringify({ task: TASK, schedule: 1, options: { queue: 'api-a' } }),
    });
    expect(created.status, created.body).toBe(201);
    expect(created.json()).toMatchObject({
      name: 'via-api',
      entry: { task: TASK, schedule: 1, options: { queue: 'api-a' } },
      version: expect.any(Number),
    });
    // The stored record, read back by the API and straight from Redis (the oracle).
    // Its view (the entry as /status shows it) is there once the catalog holds the entry: null until then.
    expect({ ...(await call(port, 'GET', '/api/entries/via-api')).json(), view: undefined }).toEqual(created.json());
    expect(JSON.parse((await redis.hget(keys.entries, 'via-api')) ?? 'null')).toMatchObject({ entry: { task: TASK, schedule: 1 } });
    const first = (await runsIn('api-a', 1))[0] as QueuedRun;
    const view = (await call(port, 'GET', '/api/entries/via-api')).json()['view'] as Record<string, unknown>;
    expect(Object.keys(view).sort()).toEqual(Object.keys(entryViewSchema.unwrap().shape).sort());
    expect(view).toMatchObject({ name: 'via-api', origin: 'store', queue: 'api-a', owner: null, paused: false });
    // An every-second entry runs a second after it is created: applied within about a second more.
    expect(first.slotMs - createdAt).toBeLessThan(2500);

    const editedAt = Date.now();
    const edited = await call(port, 'PUT', '/api/entries/via-api', {
      token: TOKEN,
      body: JSON.stringify({ task: TASK, schedule: 1, options: { queue: 'api-b' } }),
    });
    expect(edited.status, edited.body).toBe(200);
    expect(edited.json()).toMatchObject({ entry: { options: { queue: 'api-b' } }, createdAt: created.json()['createdAt'] });
    const moved = (await runsIn('api-b', 1))[0] as QueuedRun;
    // The edit continues the schedule: its next slot (within a second) goes to the new queue.
    expect(moved.slotMs - editedAt).toBeLessThan(2100);

    const deleted = await call(port, 'DELETE', '/api/entries/via-api', { token: TOKEN });
    expect(deleted.status, deleted.body).toBe(204);
    await new Promise((r) => setTimeout(r, 1200));
    const afterDelete = (await readQueue(redis, 'api-b')).length;
    await new Promise((r) => setTimeout(r, 2000));
    expect((await readQueue(redis, 'api-b')).length).toBe(afterDelete);
    expect((await call(port, 'GET', '/api/entries/via-api')).status).toBe(404);
    expect(await redis.hexists(keys.state, 'via-api')).toBe(0);

    const runs = [...(await readQueue(redis, 'api-a')), ...(await readQueue(redis, 'api-b'))];
    expect(new Set(runs.map((r) => r.id)).size).toBe(runs.length);
    expect(standby.logs.some((l) => l.event === EVENTS.fire)).toBe(false);
    expect(leader.events(EVENTS.apiWrite).map((l) => l['outcome'])).toEqual(expect.arrayContaining(['created', 'updated', 'deleted']));
  }, 60_000);

  it('creates, edits and deletes through the TypeScript client; the leader applies each within about a second', async () => {
    const entries = await Entries.connect({ url, deployment: DEPLOYMENT, prefix: 'tsbeat' });
    try {
      const createdAt = Date.now();
      const entry: EntryInput = { task: TASK, schedule: 1, options: { queue: 'client-a' } };
      expect(await entries.set('via-client', entry)).toBe('created');
      expect(await entries.set('via-client', entry)).toBe('unchanged');
      const first = (await runsIn('client-a', 1))[0] as QueuedRun;
      expect(first.slotMs - createdAt).toBeLessThan(2500);
      // The API sees what the client wrote: one store.
      expect((await call(port, 'GET', '/api/entries/via-client')).json()).toMatchObject({ entry });

      const editedAt = Date.now();
      expect(await entries.set('via-client', { ...entry, options: { queue: 'client-b' } })).toBe('updated');
      const moved = (await runsIn('client-b', 1))[0] as QueuedRun;
      expect(moved.slotMs - editedAt).toBeLessThan(2100);
      expect(await entries.get('via-client')).toMatchObject({ name: 'via-client', entry: { options: { queue: 'client-b' } } });

      expect(await entries.delete('via-client', { keepHistory: true })).toBe(true);
      expect(await entries.delete('via-client')).toBe(false);
      await new Promise((r) => setTimeout(r, 1200));
      const afterDelete = (await readQueue(redis, 'client-b')).length;
      await new Promise((r) => setTimeout(r, 2000));
      expect((await readQueue(redis, 'client-b')).length).toBe(afterDelete);
      // keepHistory: its state stays.
      expect(await redis.hexists(keys.state, 'via-client')).toBe(1);

      // All or nothing, and the same errors as the API.
      const before = await entries.version();
      const error = await entries
        .setMany({ 'many-ok': { task: TASK, schedule: 60 }, 'static-one': { task: TASK, schedule: 60 } })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: ErrorCode.EntryIsStatic });
      expect(await entries.version()).toBe(before);
      expect(await entries.get('many-ok')).toBeUndefined();
      const oracle = await checkOracle(dir, { 'bad-many': BAD_ENTRIES['bad-many'] });
      const refused = await entries.set('bad-many', BAD_ENTRIES['bad-many'] as EntryInput).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ConfigError);
      expect(sortProblems((refused as ConfigError).problems)).toEqual(sortProblems(oracle.get('bad-many') ?? []));
    } finally {
      await entries.close();
    }
  }, 60_000);

  it('refuses bad entries with 400 and the paths and messages `beat check` gives, singly and in bulk, writing nothing', async () => {
    const oracle = await checkOracle(dir, BAD_ENTRIES);
    expect(oracle.get('bad-chain')?.map((p) => p.path)).toEqual(['entries.bad-chain.chain[1].chord.header[0].task']);
    const version = await redis.get(keys.entriesVersion);
    for (const [name, entry] of Object.entries(BAD_ENTRIES)) {
      const reply = await call(port, 'PUT', `/api/entries/${name}`, { token: TOKEN, body: JSON.stringify(entry) });
      expect(reply.status, reply.body).toBe(400);
      expect(reply.json().code).toBe(ErrorCode.EntryInvalid);
      expect(sortProblems(reply.json().problems ?? []), name).toEqual(sortProblems(oracle.get(name) ?? []));
    }
    const bulk = await call(port, 'PUT', '/api/entries', {
      token: TOKEN,
      body: JSON.stringify({ 'bulk-good': { task: TASK, schedule: 60 }, ...BAD_ENTRIES }),
    });
    expect(bulk.status, bulk.body).toBe(400);
    expect(sortProblems(bulk.json().problems ?? [])).toEqual(sortProblems([...oracle.values()].flat()));
    expect(await redis.get(keys.entriesVersion)).toBe(version);
    expect(await redis.hexists(keys.entries, 'bulk-good')).toBe(0);
  }, 60_000);

  // Issue 66: a chain step's queue named the stop key, and the worker's push onto it stopped the deployment.
  it("refuses a canvas whose signature's queue lands on tsbeat's keys (400, exit 2, the client), naming its path, writing nothing", async () => {
    const version = await redis.get(keys.entriesVersion);
    const stop = { queue: keys.stop };
    const canvases: Record<string, [unknown, string]> = {
      'q-chain': [{ schedule: 1, chain: [{ task: TASK }, { task: TASK, options: stop }] }, 'chain[1].options.queue'],
      'q-group': [
        { schedule: 1, group: [{ task: TASK }, { chain: [{ task: TASK, options: { queue: keys.lock } }] }] },
        'group[1].chain[0].options.queue',
      ],
      'q-chord': [
        { schedule: 1, chord: { header: [{ task: TASK }], body: { task: TASK, options: { queue: '_kombu.binding.celery' } } } },
        'chord.body.options.queue',
      ],
      'q-link': [
        { task: TASK, schedule: 1, linkError: [{ task: TASK, link: [{ task: TASK, options: stop }] }] },
        'linkError[0].link[0].options.queue',
      ],
    };
    for (const [name, [entry, path]] of Object.entries(canvases)) {
      const reply = await call(port, 'PUT', `/api/entries/${name}`, { token: TOKEN, body: JSON.stringify(entry) });
      expect(reply.status, reply.body).toBe(400);
      expect(reply.json().problems?.map((p) => p.path)).toEqual([`entries.${name}.${path}`]);
    }
    const entries = await Entries.connect({ url, deployment: DEPLOYMENT, prefix: 'tsbeat' });
    try {
      const refused = await entries.set('q-client', (canvases['q-chain'] as [EntryInput, string])[0]).catch((e: unknown) => e);
      expect((refused as ConfigError).problems?.map((p) => p.path)).toEqual(['entries.q-client.chain[1].options.queue']);
    } finally {
      await entries.close();
    }
    const cli = await runBeatCli([
      'entries',
      'set',
      'q-cli',
      '--schedule',
      '1',
      '--chain',
      JSON.stringify([{ task: TASK }, { group: [{ task: TASK, options: stop }] }]),
      '--config',
      configFile,
    ]);
    expect(cli.code, cli.stderr).toBe(2);
    expect(cli.stderr).toContain(
      `entries.q-cli.chain[1].group[0].options.queue: the queue's list ${JSON.stringify(keys.stop)} is under tsbeat's own prefix`,
    );
    expect(await redis.get(keys.entriesVersion)).toBe(version);
    expect(await redis.exists(keys.stop)).toBe(0);
  }, 60_000);

  it('refuses writes without the token (401), with a wrong one (401), and where none is configured (403), changing nothing', async () => {
    const version = await redis.get(keys.entriesVersion);
    const body = JSON.stringify({ task: TASK, schedule: 60 });
    const none = await call(port, 'PUT', '/api/entries/no-token', { body });
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="tsbeat"');
    expect(none.json().code).toBe(ErrorCode.ApiUnauthorized);
    const wrong = await call(port, 'PUT', '/api/entries/no-token', { body, token: `${TOKEN}x` });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    expect((await call(port, 'DELETE', '/api/entries/static-one', { token: 'short' })).status).toBe(401);
    expect((await call(port, 'PUT', '/api/entries', { body: '{}' })).status).toBe(401);
    const unconfigured = await call(standbyPort, 'PUT', '/api/entries/no-token', { body, token: TOKEN });
    expect(unconfigured.status).toBe(403);
    expect(unconfigured.json().error).toMatch(/--api-token-file/);
    expect(unconfigured.json().error).toMatch(/BEAT_API_TOKEN/);
    expect(await redis.get(keys.entriesVersion)).toBe(version);
    expect(await redis.hexists(keys.entries, 'no-token')).toBe(0);
    // The token never reaches the log.
    expect(leader.allOutput()).not.toContain(TOKEN);
    // Reads from loopback need no token, on either replica.
    expect((await call(standbyPort, 'GET', '/api/entries')).status).toBe(200);
    expect((await call(standbyPort, 'GET', '/status')).status).toBe(200);
  });

  it('applies a PUT or DELETE with If-Match only to the version its ETag names (412 otherwise, nothing written)', async () => {
    const body = (every: number): string => JSON.stringify({ task: TASK, schedule: every });
    const created = await call(port, 'PUT', '/api/entries/guarded', { body: body(3600), token: TOKEN, ifMatch: '"0"' });
    expect(created.status).toBe(201);
    const etag = String(created.headers['etag']);
    expect((await call(port, 'GET', '/api/entries/guarded')).headers['etag']).toBe(etag);
    expect((await call(port, 'PUT', '/api/entries/guarded', { body: body(1800), token: TOKEN, ifMatch: etag })).status).toBe(200);
    // A second writer holding the old ETag loses: 412, and the entry keeps the first writer's change.
    const stale = await call(port, 'PUT', '/api/entries/guarded', { body: body(60), token: TOKEN, ifMatch: etag });
    expect(stale.status).toBe(412);
    expect(stale.json()).toMatchObject({ code: ErrorCode.EntryConflict });
    expect((await call(port, 'GET', '/api/entries/guarded')).json()).toMatchObject({ entry: { schedule: 1800 } });
    expect((await call(port, 'DELETE', '/api/entries/guarded', { token: TOKEN, ifMatch: etag })).status).toBe(412);
    expect((await call(port, 'PUT', '/api/entries/guarded', { body: body(60), token: TOKEN, ifMatch: 'soon' })).status).toBe(400);
    const current = String((await call(port, 'GET', '/api/entries/guarded')).headers['etag']);
    expect((await call(port, 'DELETE', '/api/entries/guarded', { token: TOKEN, ifMatch: current })).status).toBe(204);
  });

  it('answers 409 for a config file name, 404, 405, 413, 415 and 400 for bad JSON or parameters; pages in name order', async () => {
    const body = JSON.stringify({ task: TASK, schedule: 3600 });
    const conflict = await call(port, 'PUT', '/api/entries/static-one', { body, token: TOKEN });
    expect(conflict.status).toBe(409);
    expect(conflict.json()).toMatchObject({ code: ErrorCode.EntryIsStatic, problems: [] });
    expect((await call(port, 'DELETE', '/api/entries/static-one', { token: TOKEN })).status).toBe(409);
    expect((await call(port, 'GET', '/api/entries/nope')).json()).toMatchObject({ code: ErrorCode.UnknownEntry });
    expect((await call(port, 'DELETE', '/api/entries/nope', { token: TOKEN })).status).toBe(404);
    expect((await call(port, 'GET', '/api/other')).status).toBe(404);
    const post = await call(port, 'POST', '/api/entries/x', { body, token: TOKEN });
    expect(post.status).toBe(405);
    expect(post.headers['allow']).toBe('GET, HEAD, PUT, DELETE');
    expect((await call(port, 'DELETE', '/api/entries', { token: TOKEN })).headers['allow']).toBe('GET, HEAD, PUT');
    const big = Buffer.alloc(5 * 1024 * 1024, 0x20);
    for (const chunked of [false, true]) {
      const tooLarge = await call(port, 'PUT', '/api/entries', { body: big, token: TOKEN, chunked });
      expect(tooLarge.status, `chunked ${chunked}`).toBe(413);
      expect(tooLarge.json().code).toBe(ErrorCode.ApiBodyTooLarge);
    }
    expect((await call(port, 'PUT', '/api/entries/x', { body, token: TOKEN, type: 'text/plain' })).status).toBe(415);
    expect((await call(port, 'PUT', '/api/entries/x', { body, token: TOKEN, type: null })).status).toBe(415);
    expect((await call(port, 'PUT', '/api/entries/x', { body: '{"task":', token: TOKEN })).json()).toMatchObject({
      code: ErrorCode.ApiBadRequest,
    });
    expect((await call(port, 'GET', '/api/entries?limit=0')).status).toBe(400);
    expect((await call(port, 'DELETE', '/api/entries/x?keepHistory=maybe', { token: TOKEN })).status).toBe(400);
    // The server still answers after the refused uploads.
    expect((await call(port, 'GET', '/healthz')).status).toBe(200);

    const names = ['page-c', 'page-a', 'page-e', 'page-b', 'page-d'];
    const bulk = await call(port, 'PUT', '/api/entries', {
      token: TOKEN,
      body: JSON.stringify(Object.fromEntries(names.map((n) => [n, { task: TASK, schedule: 3600 }]))),
    });
    expect(bulk.status, bulk.body).toBe(200);
    expect(bulk.json()['outcomes']).toEqual(Object.fromEntries(names.map((n) => [n, 'created'])));
    const seen: string[] = [];
    let after = 'page-';
    for (let i = 0; i < 10; i += 1) {
      const page = (await call(port, 'GET', `/api/entries?limit=2&after=${encodeURIComponent(after)}`)).json() as {
        entries: { name: string }[];
        next?: string;
      };
      seen.push(...page.entries.map((e) => e.name).filter((n) => n.startsWith('page-')));
      if (page.next === undefined) break;
      after = page.next;
    }
    expect(seen).toEqual([...names].sort());
  });

  it('answers /status and GET /api/entries beyond loopback only with the token; probes and metrics stay open', async () => {
    const address = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
    if (address === undefined) {
      console.warn('no non-loopback IPv4 address on this machine: the remote-client check is not run');
      return;
    }
    const file = dir.write(
      'remote.yaml',
      [
        `name: ${DEPLOYMENT}`,
        `broker: { url: "${url}" }`,
        `lock: { ttl: ${FAST_LOCK.ttl} }`,
        'beatSchedule:',
        `  static-one: { task: ${TASK}, schedule: 3600 }`,
        '',
      ].join('\n'),
    );
    const open = fleet.spawn({ config: file, label: 'remote', args: ['--http', `${address}:0`], env: { BEAT_API_TOKEN: TOKEN } });
    const remotePort = await httpPortOf(open);
    await open.waitForEvent(EVENTS.standby, 10_000);
    for (const path of ['/status', '/api/entries']) {
      const refused = await call(remotePort, 'GET', path, { host: address });
      expect(refused.status, path).toBe(401);
      expect(refused.headers['www-authenticate']).toBe('Bearer realm="tsbeat"');
      expect((await call(remotePort, 'GET', path, { host: address, token: TOKEN })).status, path).toBe(200);
    }
    expect((await call(remotePort, 'GET', '/metrics', { host: address })).status).toBe(200);
    expect((await call(remotePort, 'GET', '/healthz', { host: address })).status).toBe(200);
    const publicReads = fleet.spawn({ config: file, label: 'public', args: ['--http', `${address}:0`, '--http-public-reads'] });
    const publicPort = await httpPortOf(publicReads);
    await publicReads.waitForEvent(EVENTS.standby, 10_000);
    expect((await call(publicPort, 'GET', '/status', { host: address })).status).toBe(200);
    expect((await call(publicPort, 'PUT', '/api/entries/x', { host: address, body: '{}', token: TOKEN })).status).toBe(403);
    const noToken = fleet.spawn({ config: file, label: 'closed', args: ['--http', `${address}:0`] });
    const closedPort = await httpPortOf(noToken);
    const closed = await call(closedPort, 'GET', '/status', { host: address });
    expect(closed.status).toBe(403);
    expect(closed.json().error).toMatch(/--http-public-reads/);
    for (const p of [open, publicReads, noToken]) p.child.kill('SIGTERM');
  });

  it('runs examples/entries-client.ts as documented', () => {
    const run = spawnSync(`${repoRoot}node_modules/.bin/jiti`, ['examples/entries-client.ts'], {
      cwd: repoRoot,
      env: { PATH: process.env['PATH'] ?? '', ENTRIES_REDIS_URL: url, ENTRIES_DEPLOYMENT: 'example' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/set report-42: created\nset report-42: updated\n/);
    expect(run.stdout).toContain('refused: entries.broken.schedule.cron: minute field "61": 61 is out of range 0-59');
    expect(run.stdout).toMatch(/delete sync-8: true\ndelete sync-8 again: false/);
    return redis.hkeys(schedulerKeys('tsbeat', 'example').entries).then((names) => expect(names.sort()).toEqual(['report-42', 'sync-7']));
  });

  it('answers 503 while Redis is unreachable', async () => {
    await server.stop();
    const list = await call(port, 'GET', '/api/entries');
    expect(list.status).toBe(503);
    expect(list.json().code).toBe(ErrorCode.RedisUnavailable);
    const put = await call(port, 'PUT', '/api/entries/later', { token: TOKEN, body: JSON.stringify({ task: TASK, schedule: 60 }) });
    expect(put.status).toBe(503);
    expect((await call(port, 'GET', '/healthz')).status).toBe(200);
  });
});
