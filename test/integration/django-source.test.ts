/**
 * django-celery-beat's tables as a source (src/django/), against the real things: a private
 * PostgreSQL and a private MariaDB, migrated by the test Django project (test/django_project), rows
 * written through Django's ORM and signals (orm.py). Every expected value below is what the row
 * was given through the ORM, read back as tsbeat's entry; schedules are then held to Celery's own
 * reading of them where they can differ (crontab zones).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveEntry } from '../../src/config/resolve.js';
import { nextFires } from '../../src/core/schedule.js';
import { silentLogger } from '../../src/base/log.js';
import { djangoSourceSchema } from '../../src/config/django-source-schema.js';
import { DjangoSource } from '../../src/django/source.js';
import type { SourcedEntry } from '../../src/ports/entry-source.js';
import { DJANGO_PROJECT, DjangoOrm, manage } from '../support/django.js';
import { PYTHON } from '../support/celery.js';
import { runCli } from '../support/cli.js';
import type { OrmRow } from '../support/django.js';
import { PrivateMariaDb } from '../support/mariadb-server.js';
import { PrivatePostgres } from '../support/postgres-server.js';

const TASK = 'tsbeat_test.record';
const execFileAsync = promisify(execFile);

interface Db {
  readonly label: string;
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function postgres(port: number): Db {
  const server = new PrivatePostgres(port);
  return {
    label: 'PostgreSQL',
    url: server.url('django'),
    async start() {
      await server.start();
      await server.createDatabase('django');
    },
    stop: () => server.stop(),
  };
}

function mariadb(port: number): Db {
  const server = new PrivateMariaDb(port);
  return {
    label: 'MariaDB',
    url: server.url('django'),
    async start() {
      await server.start();
      await server.createDatabase('django');
    },
    stop: () => server.stop(),
  };
}

function byName(entries: readonly SourcedEntry[], name: string): SourcedEntry {
  const found = entries.find((e) => e.name === name);
  if (found === undefined) throw new Error(`no entry ${name} in ${entries.map((e) => e.name).join(', ')}`);
  return found;
}

describe.each([
  ['PostgreSQL', () => postgres(25432), undefined],
  ['MariaDB', () => mariadb(23306), undefined],
  // USE_TZ = False: MySQL holds naive wall times in TIME_ZONE, which the source must be told.
  ['MariaDB with USE_TZ = False in Europe/Berlin', () => mariadb(23307), 'Europe/Berlin'],
])('the django source on %s', (_label, make, naiveZone) => {
  const db = make();
  const env = () => ({ url: db.url, ...(naiveZone === undefined ? {} : { useTz: false, timeZone: naiveZone }) });
  let orm: DjangoOrm;
  let source: DjangoSource;
  let nowMs = Date.now();

  beforeAll(async () => {
    await db.start();
    await manage(env(), ['migrate', '-v0']);
    orm = new DjangoOrm(env());
    source = new DjangoSource({
      settings: djangoSourceSchema.parse({ ...env(), fullReadEvery: '1h' }),
      logger: silentLogger,
      now: () => nowMs,
    });
  }, 120_000);

  afterAll(async () => {
    await source?.close();
    await orm?.close();
    await db.stop();
  });

  it('reads each schedule kind and option as DatabaseScheduler does', async () => {
    await orm.call({
      op: 'create',
      name: 'every-10s',
      task: TASK,
      interval: { every: 10, period: 'seconds' },
      args: [1, 'a'],
      kwargs: { k: true },
    });
    await orm.call({
      op: 'create',
      name: 'berlin-9',
      task: TASK,
      crontab: { minute: '0', hour: '9', day_of_week: 'mon-fri', day_of_month: '*', month_of_year: '*', timezone: 'Europe/Berlin' },
      queue: 'reports',
      priority: 3,
      headers: { tenant: 'acme' },
      expire_seconds: 120,
    });
    await orm.call({
      op: 'create',
      name: 'sunrise',
      task: TASK,
      solar: { event: 'sunrise', latitude: '52.520000', longitude: '13.405000' },
    });
    await orm.call({
      op: 'create',
      name: 'once',
      task: TASK,
      clocked: '2030-01-02T03:04:05+00:00',
      one_off: true,
      exchange: 'ex',
      routing_key: 'rk',
    });
    await orm.call({ op: 'create', name: 'micro', task: TASK, interval: { every: 500000, period: 'microseconds' }, enabled: false });
    await orm.call({
      op: 'create',
      name: 'expiring',
      task: TASK,
      interval: { every: 2, period: 'hours' },
      expires: '2031-05-06T07:08:09+00:00',
    });

    await orm.call({
      op: 'create',
      name: 'later-once',
      task: TASK,
      interval: { every: 1, period: 'minutes' },
      one_off: true,
      start_time: '2030-03-04T05:06:07+00:00',
    });

    const { entries } = await source.load();
    expect(byName(entries, 'every-10s').entry).toMatchObject({
      task: TASK,
      schedule: { kind: 'interval', everyMs: 10_000 },
      args: [1, 'a'],
      kwargs: { k: true },
      enabled: true,
      // Every message carries periodic_task_name = the entry's name: the row's entry need not say it.
      options: { headers: {} },
    });
    const berlin = byName(entries, 'berlin-9').entry;
    expect(berlin).toMatchObject({
      timezone: 'Europe/Berlin',
      options: { queue: 'reports', priority: 3, expires: 120, headers: { tenant: 'acme' } },
    });
    expect(berlin?.schedule.kind).toBe('cron');
    expect(byName(entries, 'sunrise').entry?.schedule).toEqual({ kind: 'solar', event: 'sunrise', lat: 52.52, lon: 13.405 });
    const once = byName(entries, 'once').entry;
    expect(once?.schedule.kind).toBe('clocked');
    expect(Date.parse((once?.schedule as { text: string }).text)).toBe(Date.parse('2030-01-02T03:04:05Z'));
    expect(once?.options).toMatchObject({ exchange: 'ex', routingKey: 'rk' });
    expect(byName(entries, 'micro').entry).toMatchObject({ schedule: { kind: 'interval', everyMs: 500 }, enabled: false });
    const expiring = byName(entries, 'expiring').entry;
    expect(Date.parse(String(expiring?.options.expires))).toBe(Date.parse('2031-05-06T07:08:09Z'));
    expect(Date.parse(String(expiring?.endAt))).toBe(Date.parse('2031-05-06T07:08:09Z'));
    const later = byName(entries, 'later-once').entry;
    expect(later).toMatchObject({ oneOff: true, schedule: { kind: 'interval', everyMs: 60_000 } });
    expect(Date.parse(String(later?.startAt))).toBe(Date.parse('2030-03-04T05:06:07Z'));
  });

  it('finds nothing when nothing changed, and each ORM edit, disable, schedule change and delete when the marker moves', async () => {
    let cursor = (await source.load()).cursor;
    let changes = await source.changesSince(cursor);
    expect(changes).toEqual({ changed: [], removed: [], cursor });

    await orm.call({ op: 'edit', name: 'every-10s', queue: 'other', args: [2] });
    changes = await source.changesSince(cursor);
    expect(changes.changed.map((e) => e.name)).toEqual(['every-10s']);
    expect(changes.changed[0]?.entry).toMatchObject({ args: [2], options: { queue: 'other' } });
    expect(changes.cursor).not.toBe(cursor);
    cursor = changes.cursor;

    await orm.call({ op: 'disable', name: 'sunrise' });
    await orm.call({ op: 'delete', name: 'expiring' });
    changes = await source.changesSince(cursor);
    expect(changes.changed.map((e) => [e.name, e.entry?.enabled])).toEqual([['sunrise', false]]);
    expect(changes.removed).toEqual(['expiring']);
    cursor = changes.cursor;

    // The schedule row itself changes (shared by the tasks using it); no task row does.
    await orm.call({ op: 'edit_interval', every: 10, period: 'seconds', to: 15 });
    changes = await source.changesSince(cursor);
    expect(changes.changed.map((e) => [e.name, e.entry?.schedule])).toEqual([['every-10s', { kind: 'interval', everyMs: 15_000 }]]);
    cursor = changes.cursor;

    // A rename keeps the row: the old name leaves, the new one comes.
    await orm.call({ op: 'edit', name: 'berlin-9', new_name: 'berlin-nine' });
    changes = await source.changesSince(cursor);
    expect(changes.changed.map((e) => e.name)).toEqual(['berlin-nine']);
    expect(changes.removed).toEqual(['berlin-9']);
    cursor = changes.cursor;
    expect(await source.changesSince(cursor)).toEqual({ changed: [], removed: [], cursor });
  });

  it('sees a queryset.update() at the next full read, and at once after PeriodicTasks.update_changed()', async () => {
    let cursor = (await source.load()).cursor;
    await orm.call({ op: 'bulk_update', names: ['every-10s'], fields: { queue: 'bulk' } });
    // The signals did not fire: the marker did not move, nothing is read.
    expect(await source.changesSince(cursor)).toEqual({ changed: [], removed: [], cursor });
    nowMs += 2 * 3600_000; // past fullReadEvery (1 h)
    let changes = await source.changesSince(cursor);
    expect(changes.changed.map((e) => [e.name, e.entry?.options.queue])).toEqual([['every-10s', 'bulk']]);
    cursor = changes.cursor;

    // An update() of a row last saved long ago (its date_changed too old to be re-read), then the
    // marker moved by hand as django-celery-beat's README asks.
    await orm.call({ op: 'bulk_update', names: ['every-10s'], fields: { queue: 'bulk2', date_changed: '2001-01-01T00:00:00+00:00' } });
    await orm.call({ op: 'update_changed' });
    changes = await source.changesSince(cursor);
    expect(changes.changed.map((e) => [e.name, e.entry?.options.queue])).toEqual([['every-10s', 'bulk2']]);
  });

  it('makes an entry with a problem of a row that cannot be expressed, naming the column', async () => {
    await orm.call({ op: 'create', name: 'bad-args', task: TASK, interval: { every: 1, period: 'minutes' } });
    await orm.call({ op: 'bulk_update', names: ['bad-args'], fields: { args: '[1,' } });
    await orm.call({ op: 'create', name: 'too-fast', task: TASK, interval: { every: 10, period: 'microseconds' } });
    const { entries } = await source.load();
    expect(byName(entries, 'bad-args').problems?.map((p) => p.path)).toEqual(['args']);
    expect(byName(entries, 'too-fast').problems?.[0]?.message).toMatch(/interval/);
  });

  it('writes runs back as DatabaseScheduler does, without moving the change marker or date_changed', async () => {
    const { cursor } = await source.load();
    const before = await orm.call<OrmRow>({ op: 'get', name: 'every-10s' });
    const at1 = Date.parse('2026-07-01T10:00:00.250Z');
    const at2 = Date.parse('2026-07-01T10:00:10.500Z');
    source.writeBack?.record('every-10s', at1);
    source.writeBack?.record('every-10s', at2);
    await source.writeBack?.flush();
    const after = await orm.call<OrmRow>({ op: 'get', name: 'every-10s' });
    expect(after.total_run_count).toBe(before.total_run_count + 2);
    expect(Date.parse(after.last_run_at ?? '')).toBe(at2);
    expect(after.date_changed).toBe(before.date_changed);
    expect(await source.changesSince(cursor)).toEqual({ changed: [], removed: [], cursor });

    // A one-off task after its run: disabled, its count reset and last_run_at cleared (is_due, then save()).
    await orm.call({ op: 'create', name: 'one-shot', task: TASK, clocked: '2026-07-01T10:00:00+00:00', one_off: true });
    const loaded = await source.load();
    source.writeBack?.record('one-shot', at1);
    await source.writeBack?.flush();
    const shot = await orm.call<OrmRow>({ op: 'get', name: 'one-shot' });
    expect(shot).toMatchObject({ enabled: false, total_run_count: 0, last_run_at: null });
    const changes = await source.changesSince(loaded.cursor);
    expect(changes.changed.map((e) => [e.name, e.entry?.enabled])).toEqual([['one-shot', false]]);
  });

  it("computes each crontab row's fires as django-celery-beat's TzAwareCrontab does, in the row's zone", async () => {
    const rows = {
      'cron-berlin': { minute: '30', hour: '2', day_of_week: '*', day_of_month: '*', month_of_year: '*', timezone: 'Europe/Berlin' },
      'cron-ny': { minute: '0', hour: '9', day_of_week: 'mon-fri', day_of_month: '*', month_of_year: '*', timezone: 'America/New_York' },
      // Celery ANDs day_of_month and day_of_week: Friday the 13th only.
      'cron-friday-13': { minute: '0', hour: '12', day_of_week: 'fri', day_of_month: '13', month_of_year: '*', timezone: 'Asia/Tokyo' },
      'cron-sydney': {
        minute: '*/20',
        hour: '1-3',
        day_of_week: '*',
        day_of_month: '1,15',
        month_of_year: '*/2',
        timezone: 'Australia/Sydney',
      },
    };
    for (const [name, crontab] of Object.entries(rows)) await orm.call({ op: 'create', name, task: TASK, crontab });
    // A window with no DST change in any of these zones (tsbeat's DST policy differs from Celery's on purpose).
    const after = '2026-05-01T00:00:00+00:00';
    const { stdout } = await execFileAsync(PYTHON, ['next_fires.py', after, '12', ...Object.keys(rows)], {
      cwd: DJANGO_PROJECT,
      env: {
        ...process.env,
        DJANGO_DB_URL: db.url,
        DJANGO_USE_TZ: naiveZone === undefined ? '1' : '0',
        DJANGO_TIME_ZONE: naiveZone ?? 'UTC',
      },
    });
    const celery = JSON.parse(stdout) as Record<string, string[]>;
    const { entries } = await source.load();
    for (const name of Object.keys(rows)) {
      const entry = byName(entries, name).entry;
      if (entry === undefined) throw new Error(`${name} has problems`);
      const resolved = resolveEntry(name, entry, { zone: 'UTC', deployment: 'default' }, 'django');
      const fires = nextFires(resolved.schedule, { zone: resolved.timezone, afterMs: Date.parse(after) }, 12);
      expect(
        fires.map((ms) => new Date(ms).toISOString()),
        name,
      ).toEqual(celery[name]?.map((t) => new Date(t).toISOString()));
    }
  });

  it('beat next shows the rows too (read once, read-only), and names the rows that cannot run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbeat-django-next-'));
    try {
      const settings = { url: db.url, ...(naiveZone === undefined ? {} : { useTz: false, timeZone: naiveZone }) };
      writeFileSync(join(dir, 'beat.json'), JSON.stringify({ sources: { django: settings } }));
      const args = ['next', '--config', 'beat.json', '--json', '--count', '3', '--after', '2026-05-01T00:00:00Z', '--entry', 'cron-ny'];
      const r = await runCli(args, { cwd: dir, env: {} });
      expect(r.code).toBe(0);
      const shown = JSON.parse(r.stdout) as { entries: { name: string; next: string[] }[] };
      // 09:00 in New York on weekdays from Friday 1 May 2026 (EDT, UTC-4).
      expect(shown.entries[0]?.next.map((t) => Date.parse(t))).toEqual(
        ['2026-05-01T13:00:00Z', '2026-05-04T13:00:00Z', '2026-05-05T13:00:00Z'].map((t) => Date.parse(t)),
      );
      expect(r.stderr).toContain('django entry "bad-args" does not run: args: not JSON');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
