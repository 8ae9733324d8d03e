/**
 * The audit trail, against a real `beat run --http` (named tokens) on a private redis-server: a
 * scripted sequence of changes through the API (a named token, X-Beat-Note), the dashboard, the command line
 * (--note) and the TypeScript client; `beat audit` and `GET /api/audit` show for each who, what,
 * when and the note, newest first; the stream holds its cap (read with XLEN, not with tsbeat).
 */
import { request } from 'node:http';
import { hostname, userInfo } from 'node:os';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { Entries } from '../../src/index.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { httpPortOf, killCliChildren, runBeatCli } from '../support/ops.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';

const DEPLOYMENT = 'audited';
const WRITE_TOKEN = 'alice-token-0123456789abcdef';
const READ_TOKEN = 'reader-token-0123456789abcdef';
const keys = schedulerKeys('tsbeat', DEPLOYMENT);
/** Who the command line and the client are recorded as, from the OS (what an operator would check against). */
const ME = `${userInfo().username}@${hostname()}`;

interface WireEvent {
  id: string;
  at: string;
  who: string;
  entry: string;
  action: string;
  changes: { path: string; before?: string; after?: string }[];
  note?: string;
  taskId?: string;
}

function call(
  port: number,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; note?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  if (options.note !== undefined) headers['x-beat-note'] = options.note;
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

describe('the audit trail', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let url = '';
  let config = '';
  let leader: BeatProcess;
  let port = 0;
  let startedMs = 0;

  const cli = async (...argv: string[]): Promise<string> => {
    const run = await runBeatCli([...argv, '--config', config]);
    expect(run.code, `beat ${argv.join(' ')}: ${run.stderr}`).toBe(0);
    return run.stdout;
  };

  beforeAll(async () => {
    // Small stream nodes, so that MAXLEN ~ trims close to the cap and the cap can be checked tightly.
    server = new PrivateRedis(await freePort(), { args: ['--stream-node-max-entries', '10'] });
    await server.start();
    url = server.url(0);
    redis = new Redis(url);
    config = dir.write(
      'beat.yaml',
      [
        `name: ${DEPLOYMENT}`,
        `broker: { url: "${url}" }`,
        `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
        'audit: { maxEvents: 200 }',
        'beatSchedule:',
        '  static-one: { task: tsbeat_test.record, schedule: 3600 }',
        '',
      ].join('\n'),
    );
    const tokens = dir.write('tokens', `alice:${WRITE_TOKEN}\nreader:read:${READ_TOKEN}\n`);
    leader = fleet.spawn({ config, label: 'leader', args: ['--http', '127.0.0.1:0', '--api-token-file', tokens] });
    port = await httpPortOf(leader);
    await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
    startedMs = Date.now();
  });

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it('records who, what, when and why through the API, the command line and the client, and shows it newest first', async () => {
    // X-Beat-Note is held to the CLI's --note rule: a control character (here ESC), a second line,
    // more than 500 characters or bad percent-encoding is a 400 naming the header, nothing written.
    for (const bad of [encodeURIComponent('first \u001b[31mversion'), encodeURIComponent('two\nlines'), 'x'.repeat(501), '%E0%A4%A']) {
      const refused = await call(port, 'PUT', '/api/entries/billing-sync', {
        token: WRITE_TOKEN,
        note: bad,
        body: { task: 'billing.sync', schedule: 3600, options: { queue: 'billing' } },
      });
      expect(refused.status, refused.body).toBe(400);
      expect(refused.body).toContain('X-Beat-Note: ');
    }
    expect((await call(port, 'GET', '/api/entries/billing-sync', { token: WRITE_TOKEN })).status).toBe(404);
    // API, named token "alice", with notes (one percent-encoded: a header holds no raw UTF-8).
    expect(
      (
        await call(port, 'PUT', '/api/entries/billing-sync', {
          token: WRITE_TOKEN,
          note: encodeURIComponent('first version'),
          body: { task: 'billing.sync', schedule: 3600, options: { queue: 'billing' } },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await call(port, 'PUT', '/api/entries/billing-sync', {
          token: WRITE_TOKEN,
          note: encodeURIComponent('hourly → every 2 h'),
          body: { task: 'billing.sync', schedule: 7200, options: { queue: 'billing' }, kwargs: { full: true } },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await call(port, 'PUT', '/api/entries', {
          token: WRITE_TOKEN,
          body: { 'sync-a': { task: 'crm.sync', schedule: 900 }, 'sync-b': { task: 'crm.sync', schedule: 900 } },
        })
      ).status,
    ).toBe(200);
    // An unchanged write changes nothing and records nothing.
    await call(port, 'PUT', '/api/entries/sync-a', { token: WRITE_TOKEN, body: { task: 'crm.sync', schedule: 900 } });

    // The command line: a change of some keys, a pause with a note (and an escape sequence in it), a resume, a trigger.
    await cli('entries', 'set', 'billing-sync', '--options', '{"queue": "billing-low"}', '--note', 'quieter queue');
    await cli('pause', 'billing-sync', '--note', 'incident 42');
    // The command line refuses a note that is not one line of text (exit 2, nothing written), as the API does (above).
    const refused = await runBeatCli(['pause', 'billing-sync', '--note', 'red \u001b[31malert', '--config', config]);
    expect(refused.code, refused.stderr).toBe(2);
    await cli('resume', 'billing-sync');
    await cli('trigger', 'static-one', '--note', 'rerun after the fix');

    // The TypeScript client.
    const client = await Entries.connect({ url, deployment: DEPLOYMENT });
    try {
      expect(await client.set('report', { task: 'reports.build', schedule: 60 }, { note: 'from the app' })).toBe('created');
      expect(await client.delete('sync-a', { note: 'cleanup' })).toBe(true);
    } finally {
      await client.close();
    }
    // The API's delete, and the command line's import of a file.
    expect((await call(port, 'DELETE', '/api/entries/sync-b', { token: WRITE_TOKEN, note: 'gone' })).status).toBe(204);
    const file = dir.write('more.yaml', 'beatSchedule:\n  imported: { task: x.y, schedule: 30 }\n');
    await cli('entries', 'import', file, '--note', 'bulk import');

    // The dashboard: a session opened with alice's token is recorded as dashboard:alice.
    const login = await call(port, 'POST', '/ui/api/login', { body: { token: WRITE_TOKEN } });
    expect(login.status).toBe(200);
    const cookie = String(login.headers['set-cookie']).split(';')[0] ?? '';
    const session = { cookie, 'x-csrf-token': (JSON.parse(login.body) as { csrf: string }).csrf };
    const page = (method: string, path: string, note: string, body?: unknown) =>
      call(port, method, path, { headers: session, note, ...(body === undefined ? {} : { body }) });
    expect((await page('PUT', '/api/entries/dash-one', 'from the page', { task: 'x.y', schedule: 90 })).status).toBe(201);
    expect((await page('POST', '/api/entries/static-one/pause', 'on the page')).status).toBe(200);

    const events = JSON.parse(await cli('audit', '--json')) as WireEvent[];
    const endMs = Date.now();
    // Newest first; each with who, what and the note, in the order the changes were made.
    expect(events.map((e) => [e.who, e.action, e.entry, e.note ?? null])).toEqual([
      ['dashboard:alice', 'pause', 'static-one', 'on the page'],
      ['dashboard:alice', 'create', 'dash-one', 'from the page'],
      [ME, 'create', 'imported', 'bulk import'],
      ['alice', 'delete', 'sync-b', 'gone'],
      [ME, 'delete', 'sync-a', 'cleanup'],
      [ME, 'create', 'report', 'from the app'],
      [ME, 'trigger', 'static-one', 'rerun after the fix'],
      [ME, 'resume', 'billing-sync', null],
      [ME, 'pause', 'billing-sync', 'incident 42'],
      [ME, 'update', 'billing-sync', 'quieter queue'],
      ['alice', 'create', 'sync-b', null],
      ['alice', 'create', 'sync-a', null],
      ['alice', 'update', 'billing-sync', 'hourly → every 2 h'],
      ['alice', 'create', 'billing-sync', 'first version'],
    ]);
    for (const e of events) {
      const at = Date.parse(e.at);
      expect(at).toBeGreaterThanOrEqual(startedMs);
      expect(at).toBeLessThanOrEqual(endMs);
    }
    // Indices as in the list above, without the dashboard's two.
    const byIndex = (i: number): WireEvent => events[i + 2] as WireEvent;
    // The field diffs: added, changed and removed fields by path.
    expect(byIndex(11).changes).toEqual([
      { path: 'options.queue', after: '"billing"' },
      { path: 'schedule', after: '3600' },
      { path: 'task', after: '"billing.sync"' },
    ]);
    expect(byIndex(10).changes).toEqual([
      { path: 'kwargs.full', after: 'true' },
      { path: 'schedule', before: '3600', after: '7200' },
    ]);
    expect(byIndex(7).changes).toEqual([{ path: 'options.queue', before: '"billing"', after: '"billing-low"' }]);
    expect(byIndex(2).changes).toEqual([
      { path: 'schedule', before: '900' },
      { path: 'task', before: '"crm.sync"' },
    ]);
    expect(byIndex(4).taskId).toMatch(/^[0-9a-f-]{36}$/);

    // The text: one line per event (time, who, action, entry), its changes and note below it, escaped.
    const text = await cli('audit', 'billing-sync');
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z  ${ME.replace(/[.$]/g, '\\$&')}  resume billing-sync$`));
    expect(text).toContain(`${ME}  pause billing-sync\n    note: incident 42\n`);
    expect(text).toContain('    note: first version\n');
    expect(text).not.toContain('\u001b');
    expect(text).toContain(
      `  alice  update billing-sync\n    +kwargs.full: true\n    schedule: 3600 → 7200\n    note: hourly → every 2 h\n`,
    );
    expect(text).toContain(`${ME}  update billing-sync\n    options.queue: "billing" → "billing-low"\n    note: quieter queue\n`);
    expect(lines.filter((l) => /^\d{4}-/.test(l))).toHaveLength(5);

    // GET /api/audit: the same events, paged with `next`, behind the read rule (a read token is enough).
    const first = await call(port, 'GET', '/api/audit?entry=billing-sync&limit=2', { token: READ_TOKEN });
    expect(first.status).toBe(200);
    const page1 = JSON.parse(first.body) as { events: WireEvent[]; next?: string };
    expect(page1.events.map((e) => e.action)).toEqual(['resume', 'pause']);
    expect(page1.next).toBe(page1.events[1]?.id);
    const page2 = JSON.parse(
      (await call(port, 'GET', `/api/audit?entry=billing-sync&before=${page1.next ?? ''}`, { token: READ_TOKEN })).body,
    ) as { events: WireEvent[]; next?: string };
    expect(page2.events.map((e) => [e.who, e.action])).toEqual([
      [ME, 'update'],
      ['alice', 'update'],
      ['alice', 'create'],
    ]);
    expect(page2.next).toBeUndefined();
    expect((await call(port, 'GET', '/api/audit', { token: 'wrong-token-0123456789abcdef' })).status).toBe(401);
    expect((await call(port, 'GET', '/api/audit?limit=0', { token: READ_TOKEN })).status).toBe(400);
    expect((await call(port, 'GET', '/api/audit?before=yesterday', { token: READ_TOKEN })).status).toBe(400);
    expect((await call(port, 'POST', '/api/audit', { token: WRITE_TOKEN })).status).toBe(405);

    // beat run logs the changes it makes as beat.audit, with the token's name.
    const logged = await waitUntil(
      'the API delete logged as beat.audit',
      async () => leader.logs.find((l) => l['event'] === EVENTS.audit && l['entry'] === 'sync-b' && l['action'] === 'delete'),
      5000,
    );
    expect(logged).toMatchObject({ who: 'alice', note: 'gone' });
  });

  it('refuses a change, naming the key, while the audit key holds another type; nothing is written', async () => {
    await redis.set(keys.audit, 'not a stream');
    try {
      // static-one was paused from the dashboard above: the resume is refused, and it stays paused.
      const resume = await runBeatCli(['resume', 'static-one', '--config', config]);
      // A stray value at a tsbeat key is a runtime failure (exit 1), named with its fix, as for the other keys.
      expect(resume.code, resume.stderr).toBe(1);
      expect(resume.stderr).toContain(`key ${keys.audit} holds a string, where tsbeat keeps a stream`);
      expect(resume.stderr).toContain(`DEL ${keys.audit}`);
      expect(await redis.sismember(keys.paused, 'static-one')).toBe(1);
      const set = await runBeatCli(['entries', 'set', 'never', '--task', 'x.y', '--schedule', '60', '--config', config]);
      expect(set.code, set.stderr).toBe(1);
      expect(set.stderr).toContain(`key ${keys.audit} holds a string`);
      expect(await redis.hexists(keys.entries, 'never')).toBe(0);
    } finally {
      await redis.del(keys.audit);
    }
  });

  it('keeps at most audit.maxEvents events, the newest', async () => {
    const client = await Entries.connect({ url, deployment: DEPLOYMENT, auditMaxEvents: 200, who: 'load' });
    try {
      const many = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`bulk-${i}`, { task: 'x.y', schedule: 60 + i }]));
      await client.setMany(many, { note: 'load' });
    } finally {
      await client.close();
    }
    const length = await redis.xlen(keys.audit);
    // MAXLEN ~ trims whole stream nodes (10 events each here): never below the cap, at most a node above it.
    expect(length).toBeGreaterThanOrEqual(200);
    expect(length).toBeLessThanOrEqual(210);
    const [newest] = await redis.xrevrange(keys.audit, '+', '-', 'COUNT', 1);
    expect(newest?.[1]).toContain('bulk-599');
    const shown = JSON.parse(await cli('audit', '--limit', '1000', '--json')) as WireEvent[];
    expect(shown).toHaveLength(length);
    // One write of 600 records its last 200 (the cap): the stream would trim the others at once.
    const load = shown.filter((e) => e.who === 'load');
    expect(load).toHaveLength(200);
    expect(load.every((e) => e.action === 'create' && e.note === 'load')).toBe(true);
    expect([load[0]?.entry, load[199]?.entry]).toEqual(['bulk-599', 'bulk-400']);
  });
});
