/**
 * The commands that read django-celery-beat's tables without running them, against a private
 * PostgreSQL migrated by the test Django project: `beat check` (rows in the table, rows that do not
 * run named with their column, exit 2; a database that cannot be read named with its setting),
 * `beat status` (each entry's origin, text and JSON), `beat import django` (a config file and the
 * runtime store), and `beat run --dry-run` (prints the rows' messages, writes nothing back).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BeatFleet, TempDir, waitUntil } from '../support/beat-process.js';
import { runCli } from '../support/cli.js';
import { DjangoOrm, manage } from '../support/django.js';
import type { OrmRow } from '../support/django.js';
import { startPrivateRedis } from '../support/ops.js';
import { PrivatePostgres } from '../support/postgres-server.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'tsbeat_test.record';

interface StatusJson {
  entries: { name: string; origin: string; task: string }[];
  entryProblems: { name: string; origin: string; problems: { path: string; message: string }[] }[];
  warnings: string[];
}

describe('beat check, status, import django and run --dry-run on django-celery-beat tables (PostgreSQL)', () => {
  const pg = new PrivatePostgres(25435);
  const dir = new TempDir();
  const fleet = new BeatFleet();
  const dbUrl = pg.url('django');
  let redisServer: PrivateRedis;
  let orm: DjangoOrm;

  beforeAll(async () => {
    redisServer = await startPrivateRedis();
    await pg.start();
    await pg.createDatabase('django');
    await manage({ url: dbUrl }, ['migrate', '-v0']);
    orm = new DjangoOrm({ url: dbUrl });
    await orm.call({ op: 'create', name: 'tick', task: TASK, interval: { every: 10, period: 'seconds' }, args: [1] });
    await orm.call({
      op: 'create',
      name: 'nightly',
      task: TASK,
      crontab: { minute: '30', hour: '2', day_of_week: '*', day_of_month: '*', month_of_year: '*', timezone: 'Europe/Berlin' },
      queue: 'reports',
    });
    dir.write('file-only.yaml', 'beatSchedule:\n  heartbeat: { task: app.ping, schedule: 60 }\n');
    dir.write(
      'beat.yaml',
      [
        'name: djcmd',
        `broker: { url: "${redisServer.url(0)}" }`,
        `sources: { django: { url: "${dbUrl}" } }`,
        'beatSchedule:',
        '  heartbeat: { task: app.ping, schedule: 60 }',
        '',
      ].join('\n'),
    );
  }, 120_000);

  afterAll(async () => {
    await fleet.killAll();
    await orm?.close();
    await redisServer?.stop();
    await pg.stop();
    dir.remove();
  });

  it('beat check reads the rows into its table, and exits 2 naming each row that would not run', async () => {
    const ok = await runCli(['check', '--config', 'beat.yaml'], { cwd: dir.path, env: {} });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/tick\s+tsbeat_test\.record\s+every 10s\s+UTC\s+\S+\s+django/);
    expect(ok.stdout).toMatch(/nightly\s+tsbeat_test\.record\s+at 02:30 every day\s+Europe\/Berlin.*django/);
    expect(ok.stdout).toMatch(/heartbeat\s+app\.ping.*file/);
    expect(ok.stdout).toContain('beat.yaml: valid, 1 entry; sources.django: 2 rows');

    // Rows django-celery-beat would not run either: args that are not JSON; and a name the file takes.
    await orm.call({ op: 'create', name: 'broken', task: TASK, interval: { every: 10, period: 'seconds' } });
    await orm.call({ op: 'bulk_update', names: ['broken'], fields: { args: '[1,' } });
    await orm.call({ op: 'create', name: 'heartbeat', task: TASK, interval: { every: 10, period: 'seconds' } });
    const bad = await runCli(['check', '--config', 'beat.yaml'], { cwd: dir.path, env: {} });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('django entry "broken" does not run: args: not JSON');
    expect(bad.stderr).toContain('django entry "heartbeat" does not run: name: the name is taken by a config-file entry');
    expect(bad.stderr).toContain('sources.django: 4 rows, 2 of which do not run (above)');
    expect(bad.stdout).toMatch(/tick\s+tsbeat_test\.record/);
  });

  it('beat check (exit 2) and beat next (listing the file’s entries) name the setting of a database they cannot read, with the fix', async () => {
    const refused = await runCli(['check', '--config', 'file-only.yaml', '--django-url', 'postgres://postgres@127.0.0.1:1/django'], {
      cwd: dir.path,
      env: {},
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('cannot read the django database at postgres://***@127.0.0.1:1/django (--django-url)');
    expect(refused.stderr).toContain('no database server answers there; check the host and port');

    // next lists the file's entries all the same, as beat status warns of a source it cannot read.
    const missing = await runCli(['next', '--config', 'file-only.yaml'], { cwd: dir.path, env: { BEAT_DJANGO_URL: pg.url('nosuch') } });
    expect(missing.code).toBe(0);
    expect(missing.stdout).toMatch(/^heartbeat {2}app\.ping/);
    // Wrapped at the width, its follow-on lines indented: read as the one line it is.
    const missingSaid = missing.stderr.replace(/\n {2}/g, ' ');
    expect(missingSaid).toContain('beat next: django entries not listed: cannot read the django database');
    expect(missingSaid).toContain('($BEAT_DJANGO_URL)');
    expect(missingSaid).toContain('the server has no such database');

    const unmigrated = await runCli(['check', '--config', 'file-only.yaml', '--django-url', pg.url('postgres')], {
      cwd: dir.path,
      env: {},
    });
    expect(unmigrated.code).toBe(2);
    expect(unmigrated.stderr).toContain('run "manage.py migrate django_celery_beat", or set tablePrefix');
  });

  it('beat status shows each entry with its origin (file, django), in text and JSON, and the rows that do not run', async () => {
    const json = await runCli(['status', '--wide', '--config', 'beat.yaml', '--json'], { cwd: dir.path, env: {} });
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const status = JSON.parse(json.stdout) as StatusJson;
    const origins = Object.fromEntries(status.entries.map((e) => [e.name, e.origin]));
    expect(origins).toEqual({ heartbeat: 'file', nightly: 'django', tick: 'django' });
    expect(status.entryProblems.map((p) => [p.name, p.origin, p.problems[0]?.path])).toEqual([
      ['broken', 'django', 'args'],
      ['heartbeat', 'django', 'name'],
    ]);

    const text = await runCli(['status', '--wide', '--config', 'beat.yaml'], { cwd: dir.path, env: {} });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/ORIGIN/);
    expect(text.stdout).toMatch(/tick\s+tsbeat_test\.record.*django/);
    expect(text.stdout).toContain('broken (django): args: not JSON');

    // The database away: status still answers from Redis, and says what it could not show.
    const away = await runCli(
      ['status', '--wide', '--config', 'beat.yaml', '--json', '--django-url', 'postgres://postgres@127.0.0.1:1/django'],
      {
        cwd: dir.path,
        env: {},
      },
    );
    expect(away.code).toBe(0);
    const partial = JSON.parse(away.stdout) as StatusJson;
    expect(partial.entries.map((e) => e.name)).toEqual(['heartbeat']);
    expect(partial.warnings.join('\n')).toContain('django entries not shown: cannot read the django database');

    // pause and resume find a row through $BEAT_DJANGO_URL too, as beat run finds the rows; without it, the name is unknown.
    dir.write('env-only.yaml', `name: djcmd\nbroker: { url: "${redisServer.url(0)}" }\nbeatSchedule: {}\n`);
    const unknown = await runCli(['pause', 'tick', '--config', 'env-only.yaml'], { cwd: dir.path, env: {} });
    expect(unknown.code).toBe(2);
    const paused = await runCli(['pause', 'tick', '--config', 'env-only.yaml'], { cwd: dir.path, env: { BEAT_DJANGO_URL: dbUrl } });
    expect(paused.stderr).toBe('');
    expect(paused.code).toBe(0);
    const resumed = await runCli(['resume', 'tick', '--config', 'env-only.yaml'], { cwd: dir.path, env: { BEAT_DJANGO_URL: dbUrl } });
    expect(resumed.code).toBe(0);
  });

  it('beat import django writes the rows as a config beat check takes, listing those it cannot convert, or into the store', async () => {
    const r = await runCli(['import', 'django', '--django-url', dbUrl, '--out', 'imported.yaml'], { cwd: dir.path, env: {} });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('PeriodicTask "broken": not imported: args: not JSON');
    expect(r.stderr).toContain('beat import: 3 entries written to imported.yaml; 1 note above');
    const text = readFileSync(join(dir.path, 'imported.yaml'), 'utf8');
    expect(text).toContain('nightly:');
    expect(text).toContain('timezone: Europe/Berlin');
    expect(text).toContain('queue: reports');
    expect(text).not.toContain('periodic_task_name');
    const check = await runCli(['check', '--config', 'imported.yaml'], { cwd: dir.path, env: {} });
    expect(check.stderr).toBe('');
    expect(check.stdout).toMatch(/nightly\s+tsbeat_test\.record\s+at 02:30 every day/);
    expect(check.stdout).toContain('imported.yaml: valid, 3 entries');

    dir.write('store.yaml', `name: djstore\nbroker: { url: "${redisServer.url(0)}" }\n`);
    const into = await runCli(['import', 'django', '--django-url', dbUrl, '--into-store', '--config', 'store.yaml'], {
      cwd: dir.path,
      env: {},
    });
    expect(into.stderr).toContain('PeriodicTask "broken": not imported');
    expect(into.code).toBe(0);
    const list = await runCli(['entries', 'list', '--config', 'store.yaml', '--json'], { cwd: dir.path, env: {} });
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('"nightly"');
    expect(list.stdout).toContain('"tick"');

    const noUrl = await runCli(['import', 'django'], { cwd: dir.path, env: {} });
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain('--django-url must name the Django database');
  });

  it('beat run --dry-run prints the rows’ messages and writes nothing back to the database', async () => {
    await orm.call({ op: 'create', name: 'fast', task: TASK, interval: { every: 1, period: 'seconds' }, args: ['fast'] });
    await orm.call({ op: 'create', name: 'once', task: TASK, interval: { every: 1, period: 'seconds' }, one_off: true });
    const dry = fleet.spawn({
      config: dir.write('dry.yaml', `sources: { django: { url: "${dbUrl}" } }\n`),
      args: ['--dry-run'],
      label: 'dry',
    });
    const messages = () => dry.outputLines as { entry: string; headers: Record<string, unknown> }[];
    await waitUntil(
      '3 dry-run messages of fast and one of once',
      async () =>
        messages().filter((m) => m.entry === 'fast').length >= 3 && messages().some((m) => m.entry === 'once') ? true : undefined,
      15_000,
      () => fleet.dump(),
    );
    expect(messages().find((m) => m.entry === 'fast')?.headers['periodic_task_name']).toBe('fast');
    // Past the write-back's batch (1 s): a real run would have written by now.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    dry.signal('SIGTERM');
    expect((await dry.waitForExit(10_000)).code).toBe(0);
    const fast = await orm.call<OrmRow>({ op: 'get', name: 'fast' });
    expect(fast).toMatchObject({ total_run_count: 0, last_run_at: null, enabled: true });
    const once = await orm.call<OrmRow>({ op: 'get', name: 'once' });
    expect(once).toMatchObject({ total_run_count: 0, last_run_at: null, enabled: true });
  });
});
