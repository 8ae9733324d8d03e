/**
 * The commands name RedBeat's entries and django's rows as they name the file's and the store's
 * (issue 50): `beat status`, `next`, `history`, `trigger`, `pause`, `resume` and `backfill`, against
 * a real RedBeat source (entries written by test/support/redbeat_client.py as RedBeat's save()
 * writes them) and a real django source (a private PostgreSQL migrated by the test Django project,
 * rows made through the ORM), with a real `beat run` leading. The hazard: before, a RedBeat
 * entry's name was "no entry named" (exit 2) to trigger, pause, resume, history and backfill,
 * status listed none of them and next printed nothing (nor the store's entries); a django row was unknown to history. The
 * oracles: the leader's broker list (the triggered task id in the `celery` list, once), the
 * leader's paused set as status reads it, the history the leader keeps.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { PYTHON, pythonCelery } from '../support/celery.js';
import { runCli } from '../support/cli.js';
import { DjangoOrm, manage } from '../support/django.js';
import { startPrivateRedis } from '../support/ops.js';
import { PrivatePostgres } from '../support/postgres-server.js';
import { freePort } from '../support/redis-server.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'tsbeat_test.record';
const CLIENT = fileURLToPath(new URL('../support/redbeat_client.py', import.meta.url));
const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

interface StatusJson {
  entries: { name: string; origin: string; paused: boolean; runCount: number }[];
  entryProblems: { name: string; origin: string; problems: { path: string; message: string }[] }[];
  warnings: string[];
}

suite(`the commands name RedBeat's entries and django's rows${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let pg: PrivatePostgres;
  let server: PrivateRedis;
  let broker: Redis;
  let orm: DjangoOrm;
  let url = '';
  let config = '';

  const py = (request: Record<string, unknown>): unknown =>
    JSON.parse(execFileSync(PYTHON, [CLIENT, JSON.stringify({ url, ...request })], { encoding: 'utf8' }));
  const cli = (argv: string[]) => runCli([...argv, '--config', config], { cwd: dir.path, env: {}, now: Date.now() });
  /** The messages in the broker's `celery` list carrying task id `id`. */
  const published = async (id: string) => (await broker.lrange('celery', 0, -1)).filter((m) => m.includes(id)).length;

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    pg = new PrivatePostgres(await freePort());
    server = await startPrivateRedis();
    url = server.url(0);
    broker = new Redis(url);
    await pg.start();
    await pg.createDatabase('django');
    const dbUrl = pg.url('django');
    await manage({ url: dbUrl }, ['migrate', '-v0']);
    orm = new DjangoOrm({ url: dbUrl });
    await orm.call({
      op: 'create',
      name: 'dj-hourly',
      task: TASK,
      interval: { every: 1, period: 'hours' },
      kwargs: { entry: 'dj-hourly' },
    });
    py({ op: 'save', name: 'rb-hourly', task: TASK, schedule: { interval: 3600 }, kwargs: { entry: 'rb-hourly' } });
    // RedBeat's decoder gives dateutil a fixed +5:30 dtstart, which no Etc/GMT zone has: an entry that does not run.
    py({ op: 'save', name: 'rb-bad', task: TASK, schedule: { rrule: { freq: 3, dtstart: 1767603600, dtstart_tz: 330 } } });
    config = dir.write(
      'beat.yaml',
      [
        'name: clisrc',
        `broker: { url: "${url}" }`,
        `resultBackend: "${server.url(1)}"`,
        'maxInterval: 1s',
        `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
        `sources: { redbeat: { keyPrefix: "redbeat:" }, django: { url: "${dbUrl}" } }`,
        'beatSchedule:',
        '  heartbeat: { task: app.ping, schedule: 3600 }',
        '',
      ].join('\n'),
    );
  }, 120_000);

  afterAll(async () => {
    await fleet.killAll();
    await orm?.close();
    broker?.disconnect();
    await server?.stop();
    await pg?.stop();
    dir.remove();
  });

  it('beat next lists the store’s entries, RedBeat entries and django rows beside the file’s, and names the RedBeat entry that does not run', async () => {
    const made = await cli(['entries', 'set', 'st-daily', '--task', TASK, '--schedule', '30 4 * * *']);
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const after = '2026-01-01T00:00:00Z';
    const next = await cli(['next', '--after', after, '--count', '2', '--json']);
    expect(next.code).toBe(0);
    const listed = (JSON.parse(next.stdout) as { entries: { name: string; origin: string; next: string[] }[] }).entries;
    // The file's first, then the runtime sources' as beat status orders them.
    expect(listed.map((e) => [e.name, e.origin])).toEqual([
      ['heartbeat', 'file'],
      ['dj-hourly', 'django'],
      ['rb-hourly', 'redbeat'],
      ['st-daily', 'store'],
    ]);
    expect(listed.find((e) => e.name === 'rb-hourly')?.next).toEqual(['2026-01-01T01:00:00+00:00', '2026-01-01T02:00:00+00:00']);
    expect(listed.find((e) => e.name === 'st-daily')?.next).toEqual(['2026-01-01T04:30:00+00:00', '2026-01-02T04:30:00+00:00']);
    expect(next.stderr).toContain('redbeat entry "rb-bad" does not run: schedule.rrule.dtstart_tz');
    expect(next.stderr).not.toContain('not listed');
    const one = await cli(['next', '--entry', 'rb-hourly', '--after', after, '--count', '1']);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('rb-hourly  tsbeat_test.record  [UTC]  origin: redbeat\n  2026-01-01T01:00:00+00:00');
    const store = await cli(['next', '--entry', 'st-daily', '--after', after, '--count', '1']);
    expect(store.stdout).toBe('st-daily  tsbeat_test.record  [UTC]  origin: store\n  2026-01-01T04:30:00+00:00\n');
    await cli(['entries', 'delete', 'st-daily']);
  });

  it('beat status, trigger, history, pause, resume and backfill take a RedBeat entry and a django row by name', async () => {
    const leader = fleet.spawn({ config });
    await leader.waitForEvent(EVENTS.lockAcquired, 15_000);

    const status = await cli(['status', '--json']);
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout) as StatusJson;
    expect(Object.fromEntries(parsed.entries.map((e) => [e.name, e.origin]))).toEqual({
      heartbeat: 'file',
      'rb-hourly': 'redbeat',
      'dj-hourly': 'django',
    });
    expect(parsed.entryProblems.map((p) => [p.name, p.origin])).toEqual([['rb-bad', 'redbeat']]);
    expect(parsed.warnings).toEqual([]);
    const table = await cli(['status', '--wide']);
    expect(table.stdout).toMatch(/rb-hourly\s+tsbeat_test\.record.*redbeat/);
    expect(table.stdout).toMatch(/dj-hourly\s+tsbeat_test\.record.*django/);

    for (const name of ['rb-hourly', 'dj-hourly']) {
      const trigger = await cli(['trigger', name]);
      expect(trigger.stderr).toBe('');
      expect(trigger.code).toBe(0);
      const id = /task id (\S+)/.exec(trigger.stdout)?.[1] ?? '';
      expect(id).not.toBe('');
      // The leader published it: once, in the broker's list.
      expect(await published(id)).toBe(1);

      // Its run is in the entry's history, as a trigger's.
      const runs = await waitUntil(
        `the history of ${name}`,
        async () => {
          const history = await cli(['history', name, '--json']);
          expect(history.code).toBe(0);
          const list = JSON.parse(history.stdout) as { taskId: string; origin: string }[];
          return list.length > 0 ? list : undefined;
        },
        10_000,
      );
      expect(runs.map((r) => [r.taskId, r.origin])).toEqual([[id, 'trigger']]);

      const pause = await cli(['pause', name]);
      expect(pause.stdout.trim()).toBe(`paused ${name}`);
      expect(pause.code).toBe(0);
      const paused = JSON.parse((await cli(['status', '--json'])).stdout) as StatusJson;
      expect(paused.entries.find((e) => e.name === name)?.paused).toBe(true);
      const resume = await cli(['resume', name]);
      expect(resume.stdout.trim()).toBe(`resumed ${name}`);

      const dry = await cli(['backfill', name, '--from', '2026-01-01T00:00:00Z', '--to', '2026-01-01T02:00:00Z', '--dry-run', '--json']);
      expect(dry.stderr).toBe('');
      expect(dry.code).toBe(0);
      const plan = JSON.parse(dry.stdout) as { entry: string; slots: string[] };
      expect(plan.entry).toBe(name);
      // The hourly grid from the entry's last run (RedBeat's meta, django's date_changed): 2 or 3 slots in 2 hours.
      expect(plan.slots.length).toBeGreaterThanOrEqual(2);
    }

    // RedBeat's Redis away: status answers from the state Redis and says what it could not show; so does next.
    const away = dir.write(
      'away.yaml',
      [
        'name: clisrc',
        `broker: { url: "${url}" }`,
        'sources: { redbeat: { url: "redis://127.0.0.1:1/0" } }',
        'beatSchedule:',
        '  heartbeat: { task: app.ping, schedule: 3600 }',
        '',
      ].join('\n'),
    );
    const partial = await runCli(['status', '--json', '--config', away], { cwd: dir.path, env: {}, now: Date.now() });
    expect(partial.code).toBe(0);
    expect((JSON.parse(partial.stdout) as StatusJson).warnings.join('\n')).toContain(
      'redbeat entries not shown: cannot reach Redis at redis://127.0.0.1:1/0: the connection was refused',
    );
    const after = ['--after', '2026-01-01T00:00:00Z', '--count', '1', '--json'];
    const nextAway = await runCli(['next', '--config', away, ...after], { cwd: dir.path, env: {} });
    expect(nextAway.code).toBe(0);
    expect(nextAway.stderr).toContain('beat next: redbeat entries not listed: cannot reach Redis at redis://127.0.0.1:1/0');
    expect(nextAway.stderr).toContain('check sources.redbeat.url');
    expect((JSON.parse(nextAway.stdout) as { entries: { name: string }[] }).entries.map((e) => e.name)).toEqual(['heartbeat']);
    // The deployment's Redis away too: the file's entries all the same, each source named on stderr.
    const nextDown = await runCli(['next', '--config', away, '--broker', 'redis://127.0.0.1:1/0', ...after], { cwd: dir.path, env: {} });
    expect(nextDown.code).toBe(0);
    // Wrapped at the width, its follow-on lines indented: read as the one line it is.
    expect(nextDown.stderr.replace(/\n {2}/g, ' ')).toContain(
      'beat next: store entries not listed: cannot reach Redis at redis://127.0.0.1:1/0: the connection was refused (is Redis running there?); check --broker or broker.url',
    );
    expect(nextDown.stderr).toContain('beat next: redbeat entries not listed');
    expect(JSON.parse(nextDown.stdout)).toEqual({
      entries: [{ name: 'heartbeat', task: 'app.ping', timezone: 'UTC', origin: 'file', next: ['2026-01-01T01:00:00+00:00'] }],
    });

    // A name no source has, and one whose entry does not run: exit 2 naming why.
    const unknown = await cli(['trigger', 'nosuch']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("RedBeat's entries or django-celery-beat's rows");
    const bad = await cli(['pause', 'rb-bad']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('the redbeat entry "rb-bad" does not run: schedule.rrule.dtstart_tz');
  }, 120_000);
});
