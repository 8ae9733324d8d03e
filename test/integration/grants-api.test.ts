/**
 * Who may do what through /api (issue 67): tokens of each role on each scope (the whole deployment,
 * an owner, a label selector) against a real `beat run --http` on a private redis-server, each verb
 * asserted by its status code AND by the store, the paused set, the stop key, the manual-run queue
 * and the broker's lists read back from Redis (the oracle): a refused action changed nothing. Then
 * the escalations: a viewer calling write routes, a scoped editor applying a plan that names another
 * owner's entry, selectors crafted to reach past their scope; and `beat run` refusing a bad tokens
 * file with exit 2, naming the line, without the token.
 */
import { request } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { httpPortOf, killCliChildren, runBeatCli, startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';
import type { BeatProcess } from '../support/beat-process.js';
import { writeFileSync } from 'node:fs';
import { Entries } from '../../src/index.js';
import { RedisEntryStore } from '../../src/redis/entry-store.js';
import { deleteEntry, putEntries } from '../../src/operations/entry-verbs.js';
import { parseGrants } from '../../src/core/grants.js';
import type { Grant } from '../../src/core/grants.js';

const TASK = 'tsbeat_test.record';
const DEPLOYMENT = 'grants';
const keys = schedulerKeys('tsbeat', DEPLOYMENT);

/** One token per role and scope; the first two in the old forms (admin, viewer). */
const TOKENS = {
  admin: { line: 'admin', token: 'admin-token-0123456789abcdef' },
  viewer: { line: 'viewer:read', token: 'viewer-token-0123456789abcdef' },
  billView: { line: 'bill-view:viewer@team=billing', token: 'billview-token-0123456789abcdef' },
  billOp: { line: 'bill-op:operator@team=billing', token: 'billop-token-0123456789abcdef' },
  billEdit: { line: 'bill-edit:editor@team=billing;viewer', token: 'billedit-token-0123456789abcdef' },
  billOwner: { line: 'bill-owner:editor@owner=billing', token: 'billowner-token-0123456789abcdef' },
  opsAdmin: { line: 'ops-admin:admin@team=ops', token: 'opsadmin-token-0123456789abcdef' },
} as const;
type Who = keyof typeof TOKENS;

/** Grants as a tokens file writes them. */
function grantsOf(text: string): readonly Grant[] {
  const parsed = parseGrants(text);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.grants;
}

interface Reply {
  readonly status: number;
  readonly body: string;
  json(): Record<string, unknown>;
}

/** A request as `who` (null: without a token; `{ bearer }`: with a token of one's own). */
function call(port: number, method: string, path: string, who: Who | null | { bearer: string }, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (who !== null) headers['authorization'] = `Bearer ${typeof who === 'string' ? TOKENS[who].token : who.bearer}`;
  const text = body === undefined ? undefined : JSON.stringify(body);
  if (text !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(text));
  }
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, timeout: 10_000 }, (res) => {
      let got = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (got += d));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: got, json: () => (got === '' ? {} : (JSON.parse(got) as Record<string, unknown>)) }),
      );
    });
    req.on('error', reject);
    if (text !== undefined) req.write(text);
    req.end();
  });
}

/** The entries of the store, each with its owner and labels: billing's and ops's by labels, and by owner. */
const SEED = {
  'b-label': { task: TASK, schedule: 3600, labels: { team: 'billing' }, options: { queue: 'q-b-label' } },
  'o-label': { task: TASK, schedule: 3600, labels: { team: 'ops' }, options: { queue: 'q-o-label' } },
};
const OWNED = {
  billing: { 'b-owned': { task: TASK, schedule: 3600, labels: { tier: 'batch' }, options: { queue: 'q-b-owned' } } },
  ops: { 'o-owned': { task: TASK, schedule: 3600, labels: { tier: 'batch' }, options: { queue: 'q-o-owned' } } },
};
const QUEUES = ['q-b-label', 'q-o-label', 'q-b-owned', 'q-o-owned'];

describe('grants through /api: roles × scopes × verbs, and nothing outside the scope changes', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let url = '';
  let port = 0;
  let configFile = '';
  let leader: BeatProcess;
  let tokenFile = '';

  /** Everything a verb could change, read straight from Redis. */
  const snapshot = async (): Promise<Record<string, unknown>> => {
    const entries = await redis.hgetall(keys.entries);
    return {
      entries: Object.fromEntries(Object.entries(entries).sort(([a], [b]) => (a < b ? -1 : 1))),
      paused: (await redis.smembers(keys.paused)).sort(),
      stop: await redis.get(keys.stop),
      triggers: await redis.lrange(keys.triggers, 0, -1),
      broker: Object.fromEntries(await Promise.all(QUEUES.map(async (q) => [q, await redis.llen(q)] as const))),
    };
  };
  /** The call answers `status` (and `code`), and when refused, Redis is as it was. */
  const expectAnswer = async (reply: () => Promise<Reply>, status: number, code?: string): Promise<Reply> => {
    const before = await snapshot();
    const got = await reply();
    expect(got.status, got.body).toBe(status);
    if (code !== undefined) expect(got.json()['code'], got.body).toBe(code);
    if (status >= 400) expect(await snapshot()).toEqual(before);
    return got;
  };
  const names = async (who: Who): Promise<string[]> => {
    const got = await call(port, 'GET', '/api/entries?limit=100', who);
    expect(got.status, got.body).toBe(200);
    return (got.json()['entries'] as { name: string }[]).map((e) => e.name).sort();
  };

  beforeAll(async () => {
    server = await startPrivateRedis();
    url = server.url(0);
    redis = new Redis(url);
    configFile = dir.write(
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
    tokenFile = dir.write(
      'tokens',
      Object.values(TOKENS)
        .map((t) => `${t.line}:${t.token}`)
        .join('\n') + '\n',
    );
    leader = fleet.spawn({ config: configFile, label: 'leader', args: ['--http', '127.0.0.1:0', '--api-token-file', tokenFile] });
    port = await httpPortOf(leader);
    await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
    expect((await call(port, 'PUT', '/api/entries', 'admin', SEED)).status).toBe(200);
    for (const [owner, entries] of Object.entries(OWNED)) {
      const applied = await call(port, 'POST', '/api/apply', 'admin', { owner, entries });
      expect(applied.status, applied.body).toBe(200);
    }
    // The control verbs act on the entries in force: wait until the catalog holds all four.
    await waitUntil(
      'the four entries in force',
      async () => {
        const status = (await call(port, 'GET', '/api/status', 'admin')).json() as { entries: { name: string }[] };
        return status.entries.length === 4 ? true : undefined;
      },
      10_000,
      () => fleet.dump(),
    );
  });

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it('reads only what the scope holds: list, get, status, history', async () => {
    const all = ['b-label', 'b-owned', 'o-label', 'o-owned'];
    expect(await names('admin')).toEqual(all);
    expect(await names('viewer')).toEqual(all);
    expect(await names('billView')).toEqual(['b-label']);
    expect(await names('billOwner')).toEqual(['b-owned']);
    expect(await names('opsAdmin')).toEqual(['o-label']);
    // billEdit holds viewer on the whole deployment too.
    expect(await names('billEdit')).toEqual(all);
    // Another team's entry is answered as one that does not exist.
    expect((await call(port, 'GET', '/api/entries/o-label', 'billView')).status).toBe(404);
    expect((await call(port, 'GET', '/api/entries/b-label', 'billView')).status).toBe(200);
    expect((await call(port, 'GET', '/api/entries/o-label/history', 'billView')).status).toBe(404);
    expect((await call(port, 'GET', '/api/entries/b-label/history', 'billView')).status).toBe(200);
    const status = (await call(port, 'GET', '/api/status', 'billOwner')).json() as { entries: { name: string }[] };
    expect(status.entries.map((e) => e.name)).toEqual(['b-owned']);
  });

  it("/metrics: a scoped token's scrape holds only its entries' series, an admin's and an open one every entry's; --http-metrics-token-required refuses a scrape without a token", async () => {
    const all = ['b-label', 'b-owned', 'o-label', 'o-owned'];
    /** The entries that have series of their own in a scrape by `who` (null: no token). */
    const seriesOf = async (who: Who | null, at = port): Promise<string[]> => {
      const got = await call(at, 'GET', '/metrics', who);
      expect(got.status, got.body).toBe(200);
      return [...new Set([...got.body.matchAll(/^tsbeat_\w+\{(?:[^}]*,)?entry="([^"]*)"/gm)].map((m) => m[1]!))].sort();
    };
    // The leader exports each entry's next fire once it has read the store.
    await waitUntil('every entry in /metrics', async () => ((await seriesOf('admin')).length === all.length ? true : undefined), 10_000);
    expect(await seriesOf('admin')).toEqual(all);
    expect(await seriesOf('viewer')).toEqual(all);
    // Without a token, open as before: every series.
    expect(await seriesOf(null)).toEqual(all);
    // The same scopes as /api/entries: billing's label, billing's owner, ops's admin on its label.
    expect(await seriesOf('billView')).toEqual(['b-label']);
    expect(await seriesOf('billOwner')).toEqual(['b-owned']);
    expect(await seriesOf('opsAdmin')).toEqual(['o-label']);
    expect(await seriesOf('billEdit')).toEqual(all);
    // The rest of the scrape stays: HELP and TYPE of the per-entry metrics, the deployment's own series.
    const billing = (await call(port, 'GET', '/metrics', 'billView')).body;
    expect(billing).toContain('# TYPE tsbeat_entry_next_fire_timestamp_seconds gauge');
    expect(billing).toMatch(/^tsbeat_leader 1$/m);
    // A token that is not configured is refused, not taken for an open scrape.
    const wrong = await call(port, 'GET', '/metrics', { bearer: 'not-a-configured-token-0123' });
    expect(wrong.status).toBe(401);

    // A deployment shared by teams closes it: a replica started with the flag answers a scrape without a token 401.
    const closed = fleet.spawn({
      config: configFile,
      label: 'metrics-closed',
      args: ['--http', '127.0.0.1:0', '--api-token-file', tokenFile, '--http-metrics-token-required'],
    });
    const closedPort = await httpPortOf(closed);
    const open = await call(closedPort, 'GET', '/metrics', null);
    expect(open.status, open.body).toBe(401);
    expect(open.json()['code']).toBe('API_UNAUTHORIZED');
    expect(open.json()['error']).toContain('--http-metrics-token-required');
    // With a token, answered and narrowed alike (a standby exports no entry's next fire: none of billing's either).
    expect(await seriesOf('billView', closedPort)).toEqual([]);
    expect((await call(closedPort, 'GET', '/metrics', 'billView')).body).toMatch(/^tsbeat_leader 0$/m);
    // The probes stay open.
    expect((await call(closedPort, 'GET', '/healthz', null)).status).toBe(200);
    closed.signal('SIGTERM');
    await closed.waitForExit(15_000);
    // The flag without any token would close /metrics to everyone: refused at start, exit 2.
    const tokenless = fleet.spawn({
      config: configFile,
      label: 'metrics-tokenless',
      args: ['--http', '127.0.0.1:0', '--http-metrics-token-required'],
    });
    expect((await tokenless.waitForExit(15_000)).code).toBe(2);
    expect(tokenless.allOutput()).toContain('--http-metrics-token-required ($BEAT_HTTP_METRICS_TOKEN_REQUIRED) needs an API token');
  }, 60_000);

  it('puts and deletes only within the scope, before and after the change', async () => {
    const edited = { ...SEED['b-label'], schedule: 1800 };
    await expectAnswer(() => call(port, 'PUT', '/api/entries/b-label', 'viewer', edited), 403, 'API_FORBIDDEN');
    await expectAnswer(() => call(port, 'PUT', '/api/entries/b-label', 'billView', edited), 403, 'API_FORBIDDEN');
    await expectAnswer(() => call(port, 'PUT', '/api/entries/b-label', 'billOp', edited), 403, 'FORBIDDEN');
    // Scoped by owner: b-label has none.
    await expectAnswer(() => call(port, 'PUT', '/api/entries/b-label', 'billOwner', edited), 403, 'FORBIDDEN');
    await expectAnswer(
      () => call(port, 'PUT', '/api/entries/o-label', 'billEdit', { ...SEED['o-label'], schedule: 1800 }),
      403,
      'FORBIDDEN',
    );
    // Moving billing's entry to ops (after out of scope), or ops's to billing (before out of scope).
    await expectAnswer(
      () => call(port, 'PUT', '/api/entries/b-label', 'billEdit', { ...SEED['b-label'], labels: { team: 'ops' } }),
      403,
      'FORBIDDEN',
    );
    await expectAnswer(
      () => call(port, 'PUT', '/api/entries/o-label', 'billEdit', { ...SEED['o-label'], labels: { team: 'billing' } }),
      403,
      'FORBIDDEN',
    );
    // Many at once: all or nothing.
    await expectAnswer(
      () => call(port, 'PUT', '/api/entries', 'billEdit', { 'b-label': edited, 'o-label': { ...SEED['o-label'], schedule: 1800 } }),
      403,
      'FORBIDDEN',
    );
    const refused = await call(port, 'PUT', '/api/entries/o-label', 'billEdit', SEED['o-label']);
    expect(refused.json()['error']).toMatch(
      /entry "o-label" \(no owner, labels team=ops\) needs the role editor.*editor@team=billing;viewer/,
    );
    expect(refused.body).not.toContain(TOKENS.billEdit.token);

    await expectAnswer(() => call(port, 'PUT', '/api/entries/b-label', 'billEdit', edited), 200);
    expect(JSON.parse((await redis.hget(keys.entries, 'b-label')) ?? '{}')).toMatchObject({ entry: { schedule: 1800 } });
    await expectAnswer(() => call(port, 'PUT', '/api/entries/b-new', 'billEdit', { ...SEED['b-label'], options: { queue: 'q-new' } }), 201);
    await expectAnswer(
      () => call(port, 'PUT', '/api/entries/o-new', 'billEdit', { ...SEED['o-label'], options: { queue: 'q-new' } }),
      403,
      'FORBIDDEN',
    );
    await expectAnswer(() => call(port, 'DELETE', '/api/entries/o-label', 'billEdit'), 403, 'FORBIDDEN');
    await expectAnswer(() => call(port, 'DELETE', '/api/entries/b-owned', 'billEdit'), 403, 'FORBIDDEN');
    await expectAnswer(() => call(port, 'DELETE', '/api/entries/b-new', 'billOp'), 403, 'FORBIDDEN');
    await expectAnswer(() => call(port, 'DELETE', '/api/entries/b-new', 'billEdit'), 204);
    expect(await redis.hexists(keys.entries, 'b-new')).toBe(0);
    // A scoped admin is an editor in its scope too.
    await expectAnswer(() => call(port, 'PUT', '/api/entries/o-label', 'opsAdmin', { ...SEED['o-label'], schedule: 1200 }), 200);
  });

  it('pauses, resumes and triggers only within the scope; a selection reaching past it is refused whole', async () => {
    await expectAnswer(() => call(port, 'POST', '/api/entries/b-label/pause', 'viewer'), 403, 'API_FORBIDDEN');
    // Outside the caller's read scope: answered as an entry that does not run.
    await expectAnswer(() => call(port, 'POST', '/api/entries/o-label/pause', 'billOp'), 404, 'UNKNOWN_ENTRY');
    await expectAnswer(() => call(port, 'POST', '/api/entries/b-owned/pause', 'billOp'), 404, 'UNKNOWN_ENTRY');
    await expectAnswer(() => call(port, 'POST', '/api/entries/o-label/trigger', 'billOp'), 404, 'UNKNOWN_ENTRY');
    await expectAnswer(() => call(port, 'POST', '/api/entries/o-owned/trigger', 'billOwner'), 404, 'UNKNOWN_ENTRY');
    for (const selector of ['team in (billing,ops)', 'tier!=x', 'team', '!nothing', 'team!=ops']) {
      const path = `/api/selected/pause?selector=${encodeURIComponent(selector)}`;
      await expectAnswer(() => call(port, 'POST', path, 'billOp'), 403, 'FORBIDDEN');
      await expectAnswer(() => call(port, 'POST', path.replace('pause', 'trigger'), 'billOp'), 403, 'FORBIDDEN');
    }

    await expectAnswer(() => call(port, 'POST', '/api/entries/b-label/pause', 'billOp'), 200);
    expect(await redis.smembers(keys.paused)).toEqual(['b-label']);
    await expectAnswer(() => call(port, 'POST', '/api/entries/b-label/resume', 'billOp'), 200);
    await expectAnswer(() => call(port, 'POST', `/api/selected/pause?selector=${encodeURIComponent('team=billing')}`, 'billOp'), 200);
    expect(await redis.smembers(keys.paused)).toEqual(['b-label']);
    await expectAnswer(() => call(port, 'POST', `/api/selected/resume?selector=${encodeURIComponent('team=billing')}`, 'billEdit'), 200);
    expect(await redis.smembers(keys.paused)).toEqual([]);
    await expectAnswer(() => call(port, 'POST', '/api/entries/b-owned/pause', 'billOwner'), 200);
    await expectAnswer(() => call(port, 'POST', '/api/entries/b-owned/resume', 'billOwner'), 200);

    const triggered = await call(port, 'POST', '/api/entries/b-label/trigger', 'billOp');
    expect([200, 202], triggered.body).toContain(triggered.status);
    await waitUntil('the manual run in the broker', async () => ((await redis.llen('q-b-label')) === 1 ? true : undefined), 6000);
    expect(await redis.llen('q-o-label')).toBe(0);
    expect(await redis.llen('q-o-owned')).toBe(0);
  });

  it('applies only the caller owner’s entries; a plan naming another owner’s entry is refused', async () => {
    const mine = { 'b-owned': { ...OWNED.billing['b-owned'], schedule: 1800 } };
    await expectAnswer(() => call(port, 'POST', '/api/apply', 'billOp', { owner: 'billing', entries: mine }), 403, 'FORBIDDEN');
    await expectAnswer(() => call(port, 'POST', '/api/apply', 'viewer', { owner: 'billing', entries: mine }), 403, 'API_FORBIDDEN');
    // As ops: would prune ops's entry and add one held by ops.
    await expectAnswer(() => call(port, 'POST', '/api/apply', 'billOwner', { owner: 'ops', entries: {} }), 403, 'FORBIDDEN');
    await expectAnswer(() => call(port, 'POST', '/api/apply', 'billOwner', { owner: 'ops', entries: mine }), 403, 'FORBIDDEN');
    // Naming ops's entry in billing's plan.
    await expectAnswer(
      () => call(port, 'POST', '/api/apply', 'billOwner', { owner: 'billing', entries: { ...mine, 'o-owned': OWNED.ops['o-owned'] } }),
      403,
      'FORBIDDEN',
    );
    // A label-scoped editor: billing's owned entry carries no team label.
    await expectAnswer(() => call(port, 'POST', '/api/apply', 'billEdit', { owner: 'billing', entries: mine }), 403, 'FORBIDDEN');

    await expectAnswer(() => call(port, 'POST', '/api/apply', 'billOwner', { owner: 'billing', entries: mine }), 200);
    expect(JSON.parse((await redis.hget(keys.entries, 'b-owned')) ?? '{}')).toMatchObject({ entry: { schedule: 1800, owner: 'billing' } });
    expect(await redis.hexists(keys.entries, 'o-owned')).toBe(1);
  });

  it('stops the deployment only with admin on the whole deployment', async () => {
    for (const who of ['viewer', 'billOp', 'billEdit', 'billOwner'] as const)
      await expectAnswer(() => call(port, 'PUT', '/api/stop', who), 403, who === 'viewer' ? 'API_FORBIDDEN' : 'FORBIDDEN');
    const scoped = await expectAnswer(() => call(port, 'PUT', '/api/stop', 'opsAdmin'), 403, 'FORBIDDEN');
    expect(scoped.json()['error']).toMatch(/needs the grant admin on the whole deployment/);
    await expectAnswer(() => call(port, 'PUT', '/api/stop', 'admin'), 200);
    expect(await redis.get(keys.stop)).not.toBeNull();
    await expectAnswer(() => call(port, 'DELETE', '/api/stop', 'opsAdmin'), 403, 'FORBIDDEN');
    await expectAnswer(() => call(port, 'DELETE', '/api/stop', 'admin'), 200);
    expect(await redis.get(keys.stop)).toBeNull();
  });

  it('records the grant used beside who, shows each reader only its scope, and filters by who', async () => {
    const events = async (who: Who, query = ''): Promise<{ who: string; grant?: string; entry: string; entries?: string[] }[]> => {
      const got = await call(port, 'GET', `/api/audit?limit=200${query}`, who);
      expect(got.status, got.body).toBe(200);
      return got.json()['events'] as { who: string; grant?: string; entry: string; entries?: string[] }[];
    };
    const byEdit = await events('admin', '&who=bill-edit');
    expect(byEdit.length).toBeGreaterThan(0);
    expect(new Set(byEdit.map((e) => `${e.who} ${e.grant}`))).toEqual(new Set(['bill-edit editor@team=billing']));
    const byOp = await events('admin', '&who=bill-op');
    expect(new Set(byOp.map((e) => e.grant))).toEqual(new Set(['operator@team=billing']));
    expect((await events('admin', '&who=admin')).every((e) => e.grant === 'admin')).toBe(true);
    // billing's viewer sees only b-label's events (and selections of it alone).
    const seen = await events('billView');
    expect(seen.length).toBeGreaterThan(0);
    for (const event of seen) expect(event.entries ?? [event.entry]).toEqual(['b-label']);
  });

  it('the TypeScript client given a scoped grant is held to it, as a token is', async () => {
    await expect(Entries.connect({ url, deployment: DEPLOYMENT, grants: 'edtor@team=billing' })).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringMatching(/grants: "edtor@team=billing": unknown role "edtor"/),
    });
    const client = await Entries.connect({ url, deployment: DEPLOYMENT, who: 'billing-script', grants: 'editor@team=billing' });
    try {
      const refusedWith = async (what: () => Promise<unknown>): Promise<void> => {
        const before = await snapshot();
        await expect(what()).rejects.toMatchObject({ code: 'FORBIDDEN' });
        expect(await snapshot()).toEqual(before);
      };
      await refusedWith(() => client.set('o-label', { ...SEED['o-label'], schedule: 900 }));
      await refusedWith(() => client.set('b-label', { ...SEED['b-label'], labels: { team: 'ops' } }));
      // One it may not read is answered as one that does not exist.
      const before = await snapshot();
      expect(await client.delete('o-owned')).toBe(false);
      expect(await snapshot()).toEqual(before);
      await refusedWith(() => client.handle('o-label').pause());
      await refusedWith(() => client.selection('team in (billing,ops)').pause());
      await refusedWith(() => client.deployment().pause());

      await client.set('b-label', { ...SEED['b-label'], schedule: 900 });
      await client.handle('b-label').pause();
      expect(await redis.smembers(keys.paused)).toEqual(['b-label']);
      await client.selection('team=billing').resume();
      expect(await redis.smembers(keys.paused)).toEqual([]);
      const events = await client.deployment().audit({ limit: 5 });
      expect(events[0]).toMatchObject({ who: 'billing-script', grant: 'editor@team=billing', action: 'resume' });
    } finally {
      await client.close();
    }
  });

  it('a backfill of an entry the caller cannot read is answered as one of no entry, and a dry run needs operate; a progress is read only through its own entry', async () => {
    const hour = 3_600_000;
    const range = { from: new Date(Date.now() - 4 * hour).toISOString(), to: new Date(Date.now() - hour).toISOString() };
    /** The answer, with the name asked for replaced: what tells one entry from another. */
    const answer = async (who: Who, name: string, body: unknown): Promise<string> => {
      const got = await expectAnswer(() => call(port, 'POST', `/api/entries/${name}/backfill`, who, body), 400);
      expect(got.body).not.toMatch(/team=ops|slots/);
      return `${got.status} ${got.body.replaceAll(name, 'NAME')}`;
    };
    for (const body of [{ ...range, dryRun: true }, range, { ...range, limit: 1 }, { ...range, overlap: 'nonsense' }])
      expect(await answer('billOp', 'o-label', body), JSON.stringify(body)).toBe(await answer('billOp', 'no-such-entry', body));
    // Readable (billEdit reads the whole deployment) but not operable: refused before any slot is shown.
    await expectAnswer(() => call(port, 'POST', '/api/entries/o-label/backfill', 'billEdit', { ...range, dryRun: true }), 403, 'FORBIDDEN');
    expect((await call(port, 'POST', '/api/entries/b-label/backfill', 'billOp', { ...range, dryRun: true })).status).toBe(200);

    // ops's backfill, done by the leader: its progress is read through o-label only.
    const queued = await call(port, 'POST', '/api/entries/o-label/backfill', 'admin', range);
    expect([200, 202], queued.body).toContain(queued.status);
    const id = String(queued.json()['id']);
    await waitUntil(
      "ops's backfill done",
      async () => ((await call(port, 'GET', `/api/entries/o-label/backfill/${id}`, 'admin')).json()['done'] === true ? true : undefined),
      10_000,
    );
    for (const who of ['billOp', 'admin'] as const) {
      const through = await call(port, 'GET', `/api/entries/b-label/backfill/${id}`, who);
      expect(through.status, through.body).toBe(404);
      expect(through.json()['code']).toBe('UNKNOWN_ENTRY');
    }
  });

  it("a scoped reader's page never names an entry outside its grants, not even as its cursor", async () => {
    /** Every name a caller sees paging `limit` at a time, entries and cursors alike. */
    const walk = async (who: Who, limit: number, from?: string): Promise<{ listed: string[]; shown: string[] }> => {
      const listed: string[] = [];
      const shown: string[] = [];
      let after = from;
      for (let pages = 0; pages < 20; pages++) {
        const got = await call(port, 'GET', `/api/entries?limit=${limit}${after === undefined ? '' : `&after=${after}`}`, who);
        expect(got.status, got.body).toBe(200);
        const body = got.json() as { entries: { name: string }[]; next?: string };
        listed.push(...body.entries.map((e) => e.name));
        shown.push(...body.entries.map((e) => e.name), ...(body.next === undefined ? [] : [body.next]));
        if (body.next === undefined) return { listed, shown };
        after = body.next;
      }
      throw new Error(`${who}'s pages never ended`);
    };
    expect(await walk('billView', 1, 'b-label')).toEqual({ listed: [], shown: [] });
    expect(await walk('billView', 1)).toEqual({ listed: ['b-label'], shown: ['b-label'] });
    expect(await walk('billOwner', 1)).toEqual({ listed: ['b-owned'], shown: ['b-owned'] });
    expect(await walk('opsAdmin', 1)).toEqual({ listed: ['o-label'], shown: ['o-label'] });
    // A reader of the whole deployment pages as before.
    expect((await walk('viewer', 1)).listed).toEqual(['b-label', 'b-owned', 'o-label', 'o-owned']);
  });

  it('a verb on an entry the caller cannot read answers as one on no entry; a selection reaching past the scope is refused before its count, naming nothing', async () => {
    /** The answer to `who`'s call on `name`, with the name replaced. */
    const answer = async (who: Who, method: string, name: string, suffix = '', body?: unknown): Promise<string> => {
      const got = await expectAnswer(() => call(port, method, `/api/entries/${name}${suffix}`, who, body), 404, 'UNKNOWN_ENTRY');
      return got.body.replaceAll(name, 'NAME');
    };
    for (const verb of ['/pause', '/resume', '/trigger'])
      expect(await answer('billOp', 'POST', 'o-label', verb)).toBe(await answer('billOp', 'POST', 'no-such-entry', verb));
    expect(await answer('billOwner', 'DELETE', 'o-label')).toBe(await answer('billOwner', 'DELETE', 'no-such-entry'));
    // A name held by an entry the caller cannot read: refused, saying nothing of that entry.
    const taken = await expectAnswer(
      () => call(port, 'PUT', '/api/entries/o-label', 'billOwner', { ...OWNED.billing['b-owned'], owner: 'billing' }),
      403,
      'FORBIDDEN',
    );
    expect(taken.json()['error']).toMatch(/"o-label" is taken by an entry outside the caller's grants/);
    expect(taken.body).not.toMatch(/ops|labels|tier/);
    // Readable and refused: described as before.
    const described = await expectAnswer(() => call(port, 'POST', '/api/entries/b-label/pause', 'billView'), 403, 'API_FORBIDDEN');
    expect(described.status).toBe(403);

    for (const [selector, count] of [
      ['team in (billing,ops)', 1],
      ['team in (billing,ops)', 2],
      ['team=ops', 7],
      ['team=ops', undefined],
      ['tier=batch', 1],
    ] as const) {
      const path = `/api/selected/pause?selector=${encodeURIComponent(selector)}`;
      const got = await expectAnswer(
        () => call(port, 'POST', path, 'billOp', count === undefined ? undefined : { count }),
        403,
        'FORBIDDEN',
      );
      expect(got.json()['error']).toMatch(/selects entries outside the caller's read scope/);
      expect(got.body).not.toMatch(/o-label|o-owned|b-owned|labels|\b[0-9] entries/);
    }
    // Within the scope, the count is checked as before.
    await expectAnswer(
      () => call(port, 'POST', `/api/selected/pause?selector=${encodeURIComponent('team=billing')}`, 'billOp', { count: 2 }),
      409,
      'SELECTION_CHANGED',
    );
  });

  it("a scoped caller's If-Match does not replace the version its grants were decided on", async () => {
    const store = new RedisEntryStore(redis, keys);
    const billing = { task: TASK, schedule: 3600, labels: { team: 'billing' }, options: { queue: 'q-race' } };
    const ops = { ...billing, labels: { team: 'ops' } };
    const billEdit = { who: 'bill-edit', grants: grantsOf('editor@team=billing') };
    for (const name of ['b-race-put', 'b-race-delete']) {
      await store.write([{ op: 'put', name, entry: billing }], { nowMs: Date.now() });
      const version = (await store.get(name))?.version ?? 0;
      // Another writer moves it to ops right after the verb read it (billing's then): the caller had
      // guessed the version that move makes.
      const racing = {
        get: async (n: string) => {
          const read = await store.get(n);
          await store.write([{ op: 'put', name: n, entry: ops }], { nowMs: Date.now() });
          return read;
        },
        write: store.write.bind(store),
      };
      const verb =
        name === 'b-race-put'
          ? putEntries({ store: racing }, billEdit, [{ name, entry: { ...billing, schedule: 60 }, ifVersion: version + 1 }], {
              nowMs: Date.now(),
            })
          : deleteEntry({ store: racing }, billEdit, name, { nowMs: Date.now(), keepHistory: true, ifVersion: version + 1 });
      try {
        await expect(verb, name).rejects.toMatchObject({ code: 'ENTRY_CONFLICT' });
        // Nothing written: ops's entry is as the move left it.
        expect(await store.get(name), name).toMatchObject({ entry: ops, version: version + 1 });
      } finally {
        await store.write([{ op: 'delete', name }], { nowMs: Date.now() });
      }
    }
  });

  it("an apply's or a put's owner is held to an owner grant: a label-scoped editor cannot create another owner's entries", async () => {
    const billingLabelled = { task: TASK, schedule: 3600, labels: { team: 'billing' }, options: { queue: 'q-b-ops' } };
    // An owner that holds nothing yet (nothing to prune): each entry is billing's by its labels.
    for (const owner of ['payments', 'ops'])
      for (const route of ['/api/plan', '/api/apply']) {
        const got = await expectAnswer(
          () => call(port, 'POST', route, 'billEdit', { owner, entries: { 'b-ops': billingLabelled } }),
          403,
          'FORBIDDEN',
        );
        expect(got.json()['error'], `${owner} ${route}`).toMatch(
          new RegExp(`owner ${owner} needs the role editor on owner=${owner} or on the whole deployment`),
        );
      }
    const put = await expectAnswer(
      () => call(port, 'PUT', '/api/entries/b-ops', 'billEdit', { ...billingLabelled, owner: 'ops' }),
      403,
      'FORBIDDEN',
    );
    expect(put.json()['error']).toMatch(/owner ops needs the role editor on owner=ops or on the whole deployment/);
    expect(await redis.hexists(keys.entries, 'b-ops')).toBe(0);
    // The owner's own editor may.
    await expectAnswer(() => call(port, 'PUT', '/api/entries/b-owned-2', 'billOwner', { ...billingLabelled, owner: 'billing' }), 201);
    await expectAnswer(() => call(port, 'DELETE', '/api/entries/b-owned-2', 'billOwner'), 204);
  });

  it('SIGHUP takes a changed tokens file, and keeps the grants in force when a line is bad (logged, without the token)', async () => {
    const lines = (change: Partial<Record<Who, string>>) =>
      (Object.entries(TOKENS) as [Who, (typeof TOKENS)[Who]][]).map(([who, t]) => `${change[who] ?? t.line}:${t.token}`).join('\n') + '\n';
    const from = leader.logs.length;
    writeFileSync(tokenFile, lines({ billView: 'bill-view:viewer@team=ops', billOp: 'bill-op:operatr@team=billing' }));
    leader.signal('SIGHUP');
    const kept = await leader.waitForEvent(EVENTS.apiTokensKept, 10_000, from);
    expect(kept.msg).toMatch(/line 4: the grants of "bill-op": "operatr@team=billing": unknown role "operatr"/);
    expect(JSON.stringify(leader.logs.slice(from))).not.toContain(TOKENS.billOp.token);
    // Still billing's viewer: the bad file changed nothing.
    expect(await names('billView')).toEqual(['b-label']);

    writeFileSync(tokenFile, lines({ billView: 'bill-view:viewer@team=ops' }));
    leader.signal('SIGHUP');
    const reloaded = await leader.waitForEvent(EVENTS.apiTokensReloaded, 10_000, from);
    expect(reloaded['tokens']).toMatchObject({ 'bill-view': 'viewer@team=ops', admin: 'admin' });
    expect(JSON.stringify(leader.logs.slice(from))).not.toContain(TOKENS.billView.token);
    expect(await names('billView')).toEqual(['o-label']);
  });

  it('beat run refuses a tokens file with a bad line: exit 2, naming the line and the fix, never the token', async () => {
    const secret = 'secret-token-0123456789abcdef';
    const bad = dir.write('bad-tokens', `ok:${TOKENS.admin.token}\nci:edtor@team=billing:${secret}\n`);
    const run = await runBeatCli(['run', '--config', configFile, '--http', '127.0.0.1:0', '--api-token-file', bad]);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(
      /line 2: the grants of "ci": "edtor@team=billing": unknown role "edtor"; the roles are viewer, operator, editor, admin/,
    );
    expect(run.stderr + run.stdout).not.toContain(secret);
  });
});
