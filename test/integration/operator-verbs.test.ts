/**
 * One operator API (issue 65): every control verb, driven through each door (the CLI, the
 * TypeScript client, /api with a write token, /api with the dashboard's session as the page holds
 * it) against one real `beat run` on a private Redis, has the same effect on the Redis keys and
 * writes the same audit event, under the door's identity: `user@host` for the CLI, the client's
 * `who`, the token's name for /api, `dashboard:<token name>` for the session. The doors call the
 * same functions (src/operations/), so a difference here is a door that stopped calling them.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Entries } from '../../src/index.js';
import { EVENTS } from '../../src/base/log-events.js';
import { AuditLog, localActor } from '../../src/redis/audit-log.js';
import { auditPageSchema } from '../../src/control/audit-event-view.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { readDefinition, recordDefinition } from '../../src/redis/definition-store.js';
import type { AuditEvent } from '../../src/control/audit-events.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil, whileFrozen } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { runCli } from '../support/cli.js';
import { httpPortOf, startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const NAME = 'ops-verbs';
const TOKEN = 'ops-verbs-token-0123456789abcdef';
const keys = schedulerKeys('tsbeat', NAME);
const fleet = new BeatFleet();
const dir = new TempDir();
let server: PrivateRedis;
let redis: Redis;
let url: string;
let config: string;
let base: string;
let client: Entries;
/** The client through /api with the token. */
let apiClient: Entries;
let beatLog: () => string;
/** The one `beat run`: it leads, and serves /api and the dashboard. */
let beat: BeatProcess;
let tokenFile: string;
/** The dashboard's session as the page holds it after its login: the cookie, and the CSRF token it sends back. */
let session: Credential;

/** The headers that make a request someone's: a bearer token, or a session's cookie and CSRF token. */
type Credential = Readonly<Record<string, string>>;
const BEARER: Credential = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  server = await startPrivateRedis();
  url = server.url(0);
  redis = new Redis(url);
  config = dir.write(`${NAME}.json`, {
    name: NAME,
    broker: { url },
    maxInterval: '200ms',
    lock: FAST_LOCK,
    // Hourly: no scheduled run lands in the broker list while the test counts manual ones.
    beatSchedule: {
      nightly: { task: 't.nightly', schedule: 3600, labels: { team: 'ops' } },
      // Its backfills' runs go to a queue of their own, apart from the manual runs counted in celery;
      // the day 8 days back is excluded by a calendar of the file (which the client's Redis path reads from the leader's record).
      daily: {
        task: 't.daily',
        schedule: { crontab: { minute: '0', hour: '0' } },
        options: { queue: 'backfills' },
        exclude: ['frozen'],
      },
    },
    calendars: { frozen: [new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 - 8 * 86_400_000).toISOString().slice(0, 10)] },
  });
  tokenFile = dir.write('token', `${TOKEN}\n`);
  beat = fleet.spawn({ config, label: 'verbs', args: ['--http', '127.0.0.1:0', '--api-token-file', tokenFile] });
  beatLog = () => beat.tail(40);
  await beat.waitForEvent('beat.lock.acquired', 15_000);
  base = `http://127.0.0.1:${await httpPortOf(beat)}`;
  session = await logIn();
  client = await Entries.connect({ url, deployment: NAME, who: 'client-test' });
  apiClient = await Entries.connect({ api: base, token: TOKEN });
  // Two runtime entries a selector selects (the client selects among the store's entries).
  await client.setMany({
    s1: { task: 't.s1', schedule: 3600, labels: { team: 'billing' } },
    s2: { task: 't.s2', schedule: 3600, labels: { team: 'billing' } },
  });
  await waitUntil(
    'the leader holds the store entries',
    async () => {
      const status = (await api('GET', '/status')).json as { entries?: { name: string }[] };
      return status.entries?.some((e) => e.name === 's2') === true || undefined;
    },
    15_000,
  );
}, 60_000);

afterAll(async () => {
  await client?.close();
  await apiClient?.close();
  await fleet.killAll();
  redis?.disconnect();
  await server?.stop();
  dir.remove();
});

/**
 * Logs in as the dashboard's page does (src/ui/api.ts): the token typed once, for a session cookie
 * and the CSRF token the page sends back on every change, from this server's Origin as a browser does.
 */
async function logIn(): Promise<Credential> {
  const res = await fetch(`${base}/ui/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base },
    body: JSON.stringify({ token: TOKEN }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  expect(res.status, `POST /ui/api/login: ${text}`).toBe(200);
  const [cookie] = res.headers.getSetCookie();
  expect(cookie, 'the login sets the session cookie').toMatch(/^tsbeat_session=/);
  return { cookie: cookie!.split(';')[0]!, 'x-csrf-token': (JSON.parse(text) as { csrf: string }).csrf, origin: base };
}

async function api(
  method: string,
  path: string,
  body?: unknown,
  credential: Credential = BEARER,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...credential, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, json: text.startsWith('{') || text.startsWith('[') ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function cli(...argv: string[]): Promise<string> {
  const result = await runCli([...argv, '--config', config], { now: Date.now() });
  expect(result.code, `beat ${argv.join(' ')}: ${result.stderr}\n${beatLog()}`).toBe(0);
  return result.stdout;
}

type Verb = 'pause' | 'resume' | 'pause-selected' | 'resume-selected' | 'trigger' | 'pause-all' | 'resume-all';
const VERBS: readonly Verb[] = ['pause', 'resume', 'pause-selected', 'resume-selected', 'trigger', 'pause-all', 'resume-all'];

/** Each door's way to say each verb, with `note`. */
const DOORS: Record<string, { who: () => string; run: (verb: Verb, note: string) => Promise<unknown> }> = {
  cli: {
    who: localActor,
    run: (verb, note) => {
      const [command, ...target] = {
        pause: ['pause', 'nightly'],
        resume: ['resume', 'nightly'],
        'pause-selected': ['pause', '-l', 'team=billing'],
        'resume-selected': ['resume', '-l', 'team=billing'],
        trigger: ['trigger', 'nightly'],
        'pause-all': ['pause', '--all'],
        'resume-all': ['resume', '--all'],
      }[verb] as [string, ...string[]];
      return cli(command, ...target, '--note', note);
    },
  },
  client: {
    who: () => 'client-test',
    run: (verb, note) => {
      const entry = client.handle('nightly');
      const selection = client.selection('team=billing');
      const deployment = client.deployment();
      return {
        pause: () => entry.pause({ note }),
        resume: () => entry.resume({ note }),
        'pause-selected': () => selection.pause({ note }),
        'resume-selected': () => selection.resume({ note }),
        trigger: async () => expect(await entry.trigger({ note })).toMatchObject({ entry: 'nightly', state: 'published' }),
        'pause-all': () => deployment.pause({ note }),
        'resume-all': () => deployment.resume({ note }),
      }[verb]();
    },
  },
  // The verb table's one call (Entries.invoke, operations/door.ts VERBS), each verb by its name:
  // straight to Redis, and through /api with the token.
  invoke: { who: () => 'client-test', run: (verb, note) => byName(client, verb, note) },
  'invoke-api': { who: () => 'api', run: (verb, note) => byName(apiClient, verb, note) },
  api: { who: () => 'api', run: (verb, note) => overApi(verb, note, BEARER) },
  // The page's door: the same routes, with the session its login opened (the token's name is "api").
  session: { who: () => 'dashboard:api', run: (verb, note) => overApi(verb, note, session) },
};

/** A verb by its name in the table, through a client's `invoke`. */
async function byName(entries: Entries, verb: Verb, note: string): Promise<unknown> {
  const entry = { entry: 'nightly' };
  const selector = { selector: 'team=billing' };
  const all = { all: true } as const;
  if (verb === 'trigger') {
    const runs = await entries.invoke('trigger', { target: entry }, { note });
    expect(runs).toMatchObject([{ entry: 'nightly', state: 'published' }]);
    return runs;
  }
  const name = verb.startsWith('pause') ? 'pause' : 'resume';
  const target = verb.endsWith('-selected') ? selector : verb.endsWith('-all') ? all : entry;
  return entries.invoke(name, { target }, { note });
}

/** A verb over /api, with a token or the dashboard's session. */
async function overApi(verb: Verb, note: string, credential: Credential): Promise<unknown> {
  const [method, path] = {
    pause: ['POST', '/api/entries/nightly/pause'],
    resume: ['POST', '/api/entries/nightly/resume'],
    'pause-selected': ['POST', '/api/selected/pause?selector=team%3Dbilling'],
    'resume-selected': ['POST', '/api/selected/resume?selector=team%3Dbilling'],
    trigger: ['POST', '/api/entries/nightly/trigger'],
    'pause-all': ['PUT', '/api/stop'],
    'resume-all': ['DELETE', '/api/stop'],
  }[verb] as [string, string];
  const answer = await api(method, path, { note }, credential);
  expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.json)}`).toBe(200);
  if (verb === 'trigger') expect(answer.json).toMatchObject({ entry: 'nightly', state: 'published' });
  return answer;
}

/** What a verb left in Redis that every door must leave alike. */
async function effects(): Promise<{ paused: string[]; stopped: boolean; published: number }> {
  const [paused, stopped, published] = await Promise.all([redis.smembers(keys.paused), redis.exists(keys.stop), redis.llen('celery')]);
  return { paused: paused.sort(), stopped: stopped === 1, published };
}

/** An audit event without what differs by door and instant. */
function shape(event: AuditEvent): Record<string, unknown> {
  return {
    entry: event.entry,
    action: event.action,
    ...(event.selector === undefined ? {} : { selector: event.selector, entries: [...(event.entries ?? [])].sort() }),
    taskId: event.taskId === undefined ? 'none' : 'some',
  };
}

describe('the operator verbs through every door', () => {
  it('pause, resume and trigger of an entry, a selector and the deployment: the same effects and audit events through the CLI, the client, /api with a token and /api with the dashboard session', async () => {
    const log = new AuditLog(redis, keys);
    const seen: Record<string, { effects: unknown[]; events: Record<string, unknown>[] }> = {};
    for (const [door, { who, run }] of Object.entries(DOORS)) {
      const round = { effects: [] as unknown[], events: [] as Record<string, unknown>[] };
      const before = await effects();
      for (const verb of VERBS) {
        const note = `${verb} via ${door}`;
        await run(verb, note);
        const now = await effects();
        round.effects.push({ verb, paused: now.paused, stopped: now.stopped, published: now.published - before.published });
        const [event] = await log.read({ limit: 1 });
        expect(event, `${door} ${verb}`).toMatchObject({ who: who(), note });
        round.events.push(shape(event as AuditEvent));
      }
      seen[door] = round;
    }
    expect(seen['cli']?.events).toEqual([
      { entry: 'nightly', action: 'pause', taskId: 'none' },
      { entry: 'nightly', action: 'resume', taskId: 'none' },
      { entry: '', action: 'pause', selector: 'team=billing', entries: ['s1', 's2'], taskId: 'none' },
      { entry: '', action: 'resume', selector: 'team=billing', entries: ['s1', 's2'], taskId: 'none' },
      { entry: 'nightly', action: 'trigger', taskId: 'some' },
      { entry: '', action: 'pause-all', taskId: 'none' },
      { entry: '', action: 'resume-all', taskId: 'none' },
    ]);
    expect(seen['cli']?.effects).toEqual([
      { verb: 'pause', paused: ['nightly'], stopped: false, published: 0 },
      { verb: 'resume', paused: [], stopped: false, published: 0 },
      { verb: 'pause-selected', paused: ['s1', 's2'], stopped: false, published: 0 },
      { verb: 'resume-selected', paused: [], stopped: false, published: 0 },
      { verb: 'trigger', paused: [], stopped: false, published: 1 },
      { verb: 'pause-all', paused: [], stopped: true, published: 1 },
      { verb: 'resume-all', paused: [], stopped: false, published: 1 },
    ]);
    expect(seen['client']).toEqual(seen['cli']);
    expect(seen['invoke']).toEqual(seen['cli']);
    expect(seen['invoke-api']).toEqual(seen['cli']);
    expect(seen['api']).toEqual(seen['cli']);
    expect(seen['session']).toEqual(seen['cli']);
  }, 120_000);

  it('reads the same audit trail and history through the CLI, the client, /api with a token and with the session', async () => {
    const [cliEvents, clientEvents, apiEvents, sessionEvents] = await Promise.all([
      cli('audit', '--json', '--limit', '5').then((text) => JSON.parse(text) as { id: string }[]),
      client.deployment().audit({ limit: 5 }),
      api('GET', '/api/audit?limit=5').then((a) => a.json['events'] as { id: string }[]),
      api('GET', '/api/audit?limit=5', undefined, session).then((a) => a.json['events'] as { id: string }[]),
    ]);
    expect(clientEvents).toHaveLength(5);
    expect(cliEvents.map((e) => e.id)).toEqual(clientEvents.map((e) => e.id));
    expect(apiEvents.map((e) => e.id)).toEqual(clientEvents.map((e) => e.id));
    expect(sessionEvents.map((e) => e.id)).toEqual(clientEvents.map((e) => e.id));
    // One shape for every reader: the client's events are the API's and the CLI's, field for field.
    expect(clientEvents).toEqual(apiEvents);
    expect(cliEvents).toEqual(apiEvents);
    // The session's own events, found by its name as the audit page's filter finds them.
    const bySession = await api('GET', '/api/audit?who=dashboard%3Aapi&limit=20', undefined, session);
    expect(bySession.status).toBe(200);
    // The answer is the one shape the OpenAPI document and the page's audit tab read, no field beside it.
    expect(auditPageSchema.parse(bySession.json)).toEqual(bySession.json);
    expect((bySession.json['events'] as { who: string }[]).map((e) => e.who)).toEqual(Array(VERBS.length).fill('dashboard:api'));
    // The manual runs (one per door), newest first, read alike (task events keep runs by default).
    const history = await client.handle('nightly').history();
    expect(history.map((r) => r.origin)).toEqual(Object.keys(DOORS).map(() => 'trigger'));
    expect(await api('GET', '/api/entries/nightly/history')).toEqual({ status: 200, json: { entry: 'nightly', runs: history } });
    // The verb table's history through the client's /api path, its limit in the query.
    expect(await apiClient.handle('nightly').history({ limit: 2 })).toEqual(history.slice(0, 2));
    expect(await api('GET', '/api/entries/nightly/history', undefined, session)).toEqual({
      status: 200,
      json: { entry: 'nightly', runs: history },
    });
    expect(JSON.parse(await cli('history', 'nightly', '--json'))).toEqual(history);
    // The status under /api, as /status answers it.
    expect(await api('GET', '/api/status')).toMatchObject({ status: 200, json: { deployment: NAME } });
    expect(await client.deployment().status()).toMatchObject({ stopped: null, paused: [], leader: { instance: expect.any(String) } });
  }, 60_000);

  it('refuses what no door may do: an unknown entry, a selector that selects nothing, a write without the token, a session write without its CSRF token', async () => {
    const log = new AuditLog(redis, keys);
    const [newest] = await log.read({ limit: 1 });
    expect(await api('POST', '/api/entries/nope/pause', {})).toMatchObject({ status: 404, json: { code: 'UNKNOWN_ENTRY' } });
    expect(await api('POST', '/api/entries/nope/pause', {}, session)).toMatchObject({ status: 404, json: { code: 'UNKNOWN_ENTRY' } });
    expect(await api('POST', '/api/selected/pause?selector=team%3Dnobody', {})).toMatchObject({
      status: 409,
      json: { code: 'NOTHING_SELECTED' },
    });
    expect(await api('POST', '/api/selected/pause?selector=%3D%3D', {})).toMatchObject({ status: 400, json: { code: 'API_BAD_REQUEST' } });
    expect(await api('POST', '/api/entries/nightly/pause', { why: 'x' })).toMatchObject({ status: 400, json: { code: 'API_BAD_REQUEST' } });
    const anonymous = await fetch(`${base}/api/entries/nightly/pause`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
    expect(anonymous.status).toBe(401);
    // The session's cookie alone is not enough to change anything: a page on another site can make the
    // browser send the cookie, but cannot read the CSRF token the login answered.
    const { 'x-csrf-token': _csrf, ...cookieOnly } = session;
    expect(await api('POST', '/api/entries/nightly/pause', {}, cookieOnly)).toMatchObject({
      status: 403,
      json: { code: 'API_FORBIDDEN', error: expect.stringMatching(/x-csrf-token/) },
    });
    expect(
      await api('POST', '/api/entries/nightly/pause', {}, { ...session, 'x-csrf-token': `${session['x-csrf-token']}x` }),
    ).toMatchObject({
      status: 403,
      json: { code: 'API_FORBIDDEN' },
    });
    await expect(client.handle('nope').pause()).rejects.toMatchObject({ code: 'UNKNOWN_ENTRY' });
    await expect(client.selection('team=nobody').pause()).rejects.toMatchObject({ code: 'NOTHING_SELECTED' });
    expect(await redis.smembers(keys.paused)).toEqual([]);
    expect((await log.read({ limit: 1 }))[0]?.id, 'no refused write reaches the audit trail').toBe(newest?.id);
  }, 60_000);

  it('backfill: a past slot through the CLI, the client straight to Redis and through /api, /api with a token and with the session: published once, audited under the door, its progress and a dry run read alike', async () => {
    const DAY = 86_400_000;
    const midnight = Math.floor(Date.now() / DAY) * DAY;
    const log = new AuditLog(redis, keys);
    const overApiClient = await Entries.connect({ api: base, token: TOKEN });
    const overSession = async (body: Record<string, unknown>, credential: Credential) => {
      const answer = await api('POST', '/api/entries/daily/backfill', body, credential);
      expect(answer.status, JSON.stringify(answer.json)).toBe(200);
      return answer.json;
    };
    /** Each door's backfill of one day's slot, with `note`: its answer's published count and id. */
    const doors: Record<string, { who: string; run: (slot: string, note: string) => Promise<{ published?: unknown; id?: unknown }> }> = {
      cli: {
        who: localActor(),
        run: async (slot, note) =>
          JSON.parse(await cli('backfill', 'daily', '--from', slot, '--to', slot, '--json', '--note', note)) as { published: number },
      },
      client: { who: 'client-test', run: (slot, note) => client.handle('daily').backfill({ from: new Date(slot), to: slot, note }) },
      'client over /api': {
        who: 'api',
        run: (slot, note) => overApiClient.handle('daily').backfill({ from: slot, to: new Date(slot), note }),
      },
      api: { who: 'api', run: (slot, note) => overSession({ from: slot, to: slot, note }, BEARER) },
      session: { who: 'dashboard:api', run: (slot, note) => overSession({ from: slot, to: slot, note }, session) },
    };
    try {
      let daysBack = 0;
      for (const [door, { who, run }] of Object.entries(doors)) {
        daysBack += 1;
        const slot = new Date(midnight - daysBack * DAY).toISOString();
        const before = await redis.llen('backfills');
        const note = `backfill via ${door}`;
        const answer = await run(slot, note);
        expect(answer, `${door}: ${beatLog()}`).toMatchObject({ published: 1 });
        expect(await redis.llen('backfills'), door).toBe(before + 1);
        const [event] = await log.read({ limit: 1 });
        expect(event, door).toMatchObject({ who, note, entry: 'daily', action: 'backfill', taskId: answer.id });
        // Its progress by id, read alike on both of the client's paths.
        const progress = await client.handle('daily').backfillProgress(String(answer.id));
        expect(progress).toMatchObject({ entry: 'daily', id: answer.id, done: true, published: 1 });
        expect(await overApiClient.handle('daily').backfillProgress(String(answer.id))).toEqual(progress);
      }
      // A dry run lists the same page through both paths and publishes nothing; again, every slot is skipped as published.
      const range = { from: new Date(midnight - 6 * DAY), to: new Date(midnight - DAY) };
      const listed = await client.handle('daily').backfillSlots(range);
      expect(listed).toMatchObject({ entry: 'daily', dryRun: true, excluded: [] });
      expect(listed.slots).toHaveLength(6);
      expect(await overApiClient.handle('daily').backfillSlots(range)).toEqual(listed);
      // The calendar's day is excluded alike on both paths (slots as the entry's zone, UTC, writes them).
      const slotText = (ms: number): string => new Date(ms).toISOString().replace('.000Z', '+00:00');
      const frozen = { from: new Date(midnight - 8 * DAY), to: new Date(midnight - 7 * DAY) };
      const around = await client.handle('daily').backfillSlots(frozen);
      expect(around).toMatchObject({
        slots: [slotText(midnight - 7 * DAY)],
        excluded: [slotText(midnight - 8 * DAY)],
      });
      expect(await overApiClient.handle('daily').backfillSlots(frozen)).toEqual(around);
      const again = await client.handle('daily').backfill(range);
      expect(again).toMatchObject({ done: true, published: 1, skipped: { recorded: 5 } });
      // waitMs 0 answers at once on both paths (over /api the server is asked not to wait its 5 s):
      // queued, not done, while the leader is frozen (SIGSTOP, well under the lock's TTL); its
      // progress then shows the leader finishing it. Over /api the request goes to a standby, which
      // answers while the leader is frozen; had it waited its 5 s, it would have taken the lock after
      // the TTL and answered done.
      const standby = fleet.spawn({ config, label: 'api-standby', args: ['--http', '127.0.0.1:0', '--api-token-file', tokenFile] });
      await standby.waitForEvent(EVENTS.standby, 15_000);
      const overStandby = await Entries.connect({ api: `http://127.0.0.1:${await httpPortOf(standby)}`, token: TOKEN });
      try {
        for (const [daysBack, entries] of [
          [9, client],
          [10, overStandby],
        ] as const) {
          const slot = new Date(midnight - daysBack * DAY);
          const queued = await whileFrozen([beat], () => entries.handle('daily').backfill({ from: slot, to: slot, waitMs: 0 }));
          expect(queued, `${daysBack}`).toMatchObject({ entry: 'daily', done: false });
          const done = await waitUntil(
            `the backfill of ${slot.toISOString()} done`,
            async () => {
              const progress = await entries
                .handle('daily')
                .backfillProgress(queued.id)
                .catch(() => undefined);
              return progress?.done === true ? progress : undefined;
            },
            15_000,
          );
          expect(done).toMatchObject({ published: 1 });
        }
        // A trigger over /api is waited for as asked too: waitMs 0 answers 202 queued while the
        // leader is frozen, and the leader publishes it after; a bad waitMs is refused naming it,
        // and a pause takes none.
        const celeryBefore = await redis.llen('celery');
        const quick = await whileFrozen([beat], () => overStandby.handle('nightly').trigger({ waitMs: 0, note: 'quick' }));
        expect(quick).toMatchObject({ entry: 'nightly', state: 'queued' });
        await waitUntil('the queued trigger published', async () => (await redis.llen('celery')) === celeryBefore + 1 || undefined, 15_000);
        for (const waitMs of [-1, 5001, 0.5, '0'])
          expect(await api('POST', '/api/entries/nightly/trigger', { waitMs }), String(waitMs)).toMatchObject({
            status: 400,
            json: {
              code: 'API_BAD_REQUEST',
              error:
                'waitMs must be a whole number of milliseconds from 0 to 5000: the body of POST /api/entries/nightly/trigger is {"note"?: TEXT, "waitMs"?: MS}',
            },
          });
        expect(await api('POST', '/api/entries/nightly/pause', { waitMs: 0 })).toMatchObject({
          status: 400,
          json: { error: 'unknown field "waitMs": the body of POST /api/entries/nightly/pause is {"note"?: TEXT}' },
        });
        expect(await redis.llen('celery')).toBe(celeryBefore + 1);
      } finally {
        await overStandby.close();
        standby.signal('SIGTERM');
        await standby.waitForExit(15_000);
      }
      // What no door may do, refused alike on both paths before anything is queued.
      const [newest] = await log.read({ limit: 1 });
      for (const entries of [client, overApiClient]) {
        await expect(entries.handle('nope').backfill(range)).rejects.toMatchObject({ code: 'API_BAD_REQUEST' });
        await expect(entries.handle('daily').backfill({ from: range.to, to: range.from })).rejects.toMatchObject({
          code: 'API_BAD_REQUEST',
        });
        await expect(entries.handle('daily').backfillProgress('no-such-id')).rejects.toMatchObject({ code: 'UNKNOWN_ENTRY' });
      }
      expect((await log.read({ limit: 1 }))[0]?.id, 'no refused backfill reaches the audit trail').toBe(newest?.id);
      // The Redis path keeps the recorded config file while its digest holds, and reads it again when
      // the record changes: a calendar that now freezes the other day is followed at once.
      const recorded = await readDefinition(redis, keys);
      if (recorded.kind !== 'recorded') throw new Error(`no recorded definition: ${recorded.kind}`);
      const { settings } = recorded.definition;
      const moved = { frozen: [new Date(midnight - 7 * DAY).toISOString().slice(0, 10)] };
      await recordDefinition(
        redis,
        keys,
        { ...recorded.definition, settings: { ...settings, calendars: moved } },
        { nowMs: Date.now(), maxBytes: 1_000_000, limitName: 'test' },
      );
      expect(await client.handle('daily').backfillSlots(frozen)).toMatchObject({
        slots: [slotText(midnight - 8 * DAY)],
        excluded: [slotText(midnight - 7 * DAY)],
      });
    } finally {
      await overApiClient.close();
    }
  }, 120_000);
});
