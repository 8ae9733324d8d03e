/**
 * `beat import celery` against a real Celery app (test/fixtures/import/celery_proj/beatproj.py)
 * under Debian's /usr/bin/python3: the config it writes passes `beat check`, and `beat next` gives
 * for every entry the instants Celery itself computes for it in the same Python
 * (test/support/celery_next_fires.py). What it cannot express is listed; bad input exits 2.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { dumpCeleryApp } from '../../src/importers/celery-app.js';
import { repoRoot, runCli } from '../support/cli.js';
import { PYTHON, pythonCelery } from '../support/celery.js';
import { startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const celery = pythonCelery();
const dir = mkdtempSync(join(tmpdir(), 'tsbeat-import-celery-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROJECT = join(repoRoot, 'test/fixtures/import/celery_proj');
const NEXT_FIRES = join(repoRoot, 'test/support/celery_next_fires.py');
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
const out = join(dir, 'celery.yaml');

function importApp(args: string[]) {
  return runCli(['import', 'celery', ...args], { cwd: PROJECT, env });
}

/** Celery's next fires, in epoch ms, from the same app in the same Python. */
function celeryFires(after: string, count: number, names: string[]): Record<string, number[]> {
  const r = spawnSync(PYTHON, [NEXT_FIRES, 'beatproj:app', after, String(count), ...names], {
    cwd: PROJECT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const fires = JSON.parse(r.stdout) as Record<string, string[]>;
  return Object.fromEntries(Object.entries(fires).map(([name, isos]) => [name, isos.map((iso) => Date.parse(iso))]));
}

async function tsbeatFires(after: string, count: number): Promise<Record<string, number[]>> {
  const r = await runCli(['next', '--config', out, '--json', '--after', after, '--count', String(count)]);
  expect(r.stderr).toBe('');
  const json = JSON.parse(r.stdout) as { entries: { name: string; next: string[] }[] };
  return Object.fromEntries(json.entries.map((e) => [e.name, e.next.map((iso) => Date.parse(iso))]));
}

describe.skipIf(!celery.ok)('beat import celery, a real app under /usr/bin/python3', () => {
  it('writes every expressible entry and setting, lists the rest, and beat check accepts the result', async () => {
    const r = await importApp(['--app', 'beatproj:app', '--python', PYTHON, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([
      'beatproj:app: broker_transport_options.confirm_publish: not a transport option tsbeat reads; left out',
      expect.stringMatching(
        /^beatproj:app: task_routes\[1\]: a router function or class \(<function route_by_hand at 0x[0-9a-f]+>\) decides in code; write its rules as taskRoutes by hand$/,
      ),
      'beatproj:app: beat_schedule["custom-class"]: its schedule is a beatproj.every_other_day (<freq: 2.00 days>), a custom schedule class whose times only its own code knows; write it as a crontab, cron, rrule, interval or solar schedule by hand: not imported',
      'beatproj:app: beat_schedule["with-eta"].options.eta: tsbeat does not send the apply_async option "eta"; left out',
      `beat import: 11 entries written to ${out}; 4 notes above: what the config does not carry over`,
    ]);
    const check = await runCli(['check', '--config', out]);
    expect(check.stderr).toBe('');
    expect(check.stdout).toContain(`${out}: valid, 11 entries`);
  });

  it('carries the settings over as Celery applies them: exact route names before patterns, a key without * as a name, a compiled regex with its flags', async () => {
    const config = (await import('yaml')).parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
    const { beatSchedule, ...settings } = config as { beatSchedule: Record<string, Record<string, unknown>> };
    expect(settings).toEqual({
      timezone: 'Europe/Berlin',
      broker: { url: 'redis://127.0.0.1:6379/5', transportOptions: { global_keyprefix: 'proj:', visibility_timeout: 3600 } },
      taskDefaultQueue: 'default',
      taskRoutes: {
        'billing.charge': 'billing',
        '/^odd\\?name$/': 'odd',
        'reports.*': { queue: 'reports', priority: 3 },
        '/^maintenance\\.(vacuum|reindex)$/i': { queue: 'ops', routingKey: 'ops.db' },
      },
    });
    expect(beatSchedule['digest-weekdays']).toEqual({
      task: 'mail.digest',
      schedule: { crontab: { minute: 30, hour: '8,17', dayOfWeek: 'mon-fri' } },
      args: ['daily', 3],
      kwargs: { dry_run: false, to: ['ops@example.com'] },
      options: { queue: 'mail', priority: 5, expires: 600, headers: { 'x-team': 'ops' } },
    });
    // Sets and ranges, which have no text, as the values Celery expanded them to.
    expect(beatSchedule['set-fields']?.schedule).toEqual({ crontab: { minute: [5, 35], hour: [9, 10, 11] } });
    expect(beatSchedule['hourly-relative']).toEqual({ task: 'reports.hourly', schedule: 3600, relative: true });
    expect(beatSchedule['relative-key']).toEqual({ task: 'reports.daily', schedule: 86400, relative: true });
    expect(beatSchedule['every-45s']?.options).toEqual({ timeLimit: 30, softTimeLimit: 20, ignoreResult: true });
    expect(beatSchedule['sunset-berlin']?.schedule).toEqual({ solar: { event: 'sunset', lat: 52.52, lon: 13.405 } });
    expect(beatSchedule['with-eta']?.options).toEqual({ queue: 'later' });
    expect(beatSchedule['custom-class']).toBeUndefined();
  });

  // Four fires of each entry from a summer and a winter instant, none across a DST change: there
  // Celery 5.2's crontab keeps the old UTC offset when it jumps months ahead (a month-start job runs
  // at 07:00 CEST in April), where tsbeat keeps the wall time (docs/schedules.md, "Daylight saving time").
  it.each(['2026-06-10T10:17:30+00:00', '2026-11-04T23:59:30+00:00'])(
    'fires every entry when Celery computes it would, from %s (solar within a minute)',
    async (after) => {
      const ours = await tsbeatFires(after, 4);
      const names = Object.keys(ours);
      expect(names).toHaveLength(11);
      const theirs = celeryFires(after, 4, names);
      for (const name of names) {
        const [a, b] = [ours[name] ?? [], theirs[name] ?? []];
        expect(a, name).toHaveLength(4);
        if (name.startsWith('sun')) a.forEach((ms, i) => expect(Math.abs(ms - (b[i] ?? 0)), `${name} #${i}`).toBeLessThan(60_000));
        else
          expect(
            a.map((ms) => new Date(ms).toISOString()),
            name,
          ).toEqual(b.map((ms) => new Date(ms).toISOString()));
      }
    },
  );
});

describe.skipIf(!celery.ok)('beat import celery of entries with callbacks (canvas entries)', () => {
  it("writes a link / link_error option as the entry's link / linkError signatures, nested ones too, and leaves out a chain as a link, saying why", async () => {
    const canvasOut = join(dir, 'canvas.yaml');
    const r = await importApp(['--app', 'canvasproj:app', '--python', PYTHON, '--out', canvasOut]);
    expect(r.code).toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual([
      `canvasproj:app: beat_schedule["chain-link"]: its options.link is a chain, and a callback in tsbeat is a signature: link a signature, or write the canvas as the entry's chain, group or chord by hand: not imported`,
      `beat import: 2 entries written to ${canvasOut}; 1 note above: what the config does not carry over`,
    ]);
    const written = parseYaml(readFileSync(canvasOut, 'utf8')) as { beatSchedule: Record<string, unknown> };
    expect(written.beatSchedule).toEqual({
      linked: {
        task: 'proj.fetch',
        schedule: 60,
        args: [1],
        options: { queue: 'work' },
        link: [{ task: 'proj.store', args: ['db'] }],
        linkError: [{ task: 'proj.alert', kwargs: { channel: 'ops' }, options: { queue: 'alerts' } }],
      },
      nested: {
        task: 'proj.fetch',
        schedule: 300,
        link: [{ task: 'proj.notify', options: { softTimeLimit: 5 }, immutable: true, link: [{ task: 'proj.log' }] }],
      },
    });
    const check = await runCli(['check', '--config', canvasOut]);
    expect(check.stderr).toBe('');
    expect(check.stdout).toContain(`${canvasOut}: valid, 2 entries`);
  });
});

/** Runs `code` in /usr/bin/python3 from the project, with the schedule file's path as argv[1]. */
function python(code: string, file: string): void {
  const r = spawnSync(PYTHON, ['-c', code, file], { cwd: PROJECT, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
}

describe.skipIf(!celery.ok)('beat import celery --schedule-file reads only what celery beat writes', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  }, 30_000);
  afterAll(async () => {
    await redis?.stop();
  });

  it("carries over the file celery beat's own PersistentScheduler wrote for the app (pytz zones, a crontab range, a custom schedule class)", async () => {
    const file = join(dir, 'celerybeat-schedule');
    python(
      [
        'import sys',
        "sys.path.insert(0, '.')",
        'from beatproj import app',
        'from celery.beat import PersistentScheduler',
        's = PersistentScheduler(app=app, schedule_filename=sys.argv[1], lazy=True)',
        's.setup_schedule()',
        's.close()',
      ].join('\n'),
      file,
    );
    const r = await importApp([
      '--app',
      'beatproj:app',
      '--python',
      PYTHON,
      '--schedule-file',
      file,
      '--out',
      join(dir, 'cut.yaml'),
      '--broker',
      redis.url(0),
    ]);
    expect(r.stderr).toContain(`celery beat's last runs of 11 entries taken from ${file} into deployment`);
    expect(r.code).toBe(0);
  });

  it('refuses a crafted file whose unpickling would run os.system: exit 2 naming what it calls, nothing run, nothing written', async () => {
    const file = join(dir, 'crafted-schedule');
    const ran = join(dir, 'ran');
    python(
      [
        'import os, shelve, sys',
        'class Crafted:',
        '    def __reduce__(self):',
        `        return (os.system, (${JSON.stringify(`touch ${ran}`)},))`,
        's = shelve.open(sys.argv[1])',
        "s.update({'entries': {'digest-weekdays': Crafted()}, '__version__': '5.2.6', 'tz': 'Europe/Berlin', 'utc_enabled': True})",
        's.close()',
      ].join('\n'),
      file,
    );
    const written = join(dir, 'crafted.yaml');
    const r = await importApp([
      '--app',
      'beatproj:app',
      '--python',
      PYTHON,
      '--schedule-file',
      file,
      '--out',
      written,
      '--broker',
      redis.url(0),
    ]);
    expect(r.stderr).toBe(
      `beat import celery: refused the schedule file ${JSON.stringify(file)}: it names posix.system, which celery beat does not write there: unpickling it could run code as you, so nothing was read or imported; name the file celery beat itself wrote (its -s), or import without --schedule-file (every entry then starts afresh)\n`,
    );
    expect(r.code).toBe(2);
    expect(existsSync(ran)).toBe(false);
    expect(existsSync(written)).toBe(false);
  });
});

describe.skipIf(!celery.ok)("beat import celery --schedule-file, celery beat's shelve", () => {
  it('reads it by the name ls shows (celerybeat-schedule.db, the suffix dbm.ndbm adds) as by the name celery beat was given', () => {
    // A shelve as celery beat leaves it, written by the same Python (dbm.ndbm: one file, ".db" added).
    const base = join(dir, 'celerybeat-schedule');
    const write = spawnSync(
      PYTHON,
      ['-c', "import shelve, sys; s = shelve.open(sys.argv[1]); s['entries'] = {}; s['tz'] = 'UTC'; s.close()", base],
      { encoding: 'utf8' },
    );
    expect(write.status, write.stderr).toBe(0);
    const listed = readdirSync(dir).filter((f) => f.startsWith('celerybeat-schedule'));
    for (const name of [base, ...listed.map((f) => join(dir, f))]) {
      const dump = dumpCeleryApp({ app: 'beatproj:app', python: PYTHON, cwd: PROJECT, env, scheduleFile: name });
      expect(dump.schedule_file?.entries, name).toEqual({});
    }
    expect(listed.length).toBeGreaterThan(0);
  });
});

describe('beat import celery on bad input', () => {
  it('names a python that is not there, with the fix', async () => {
    const r = await importApp(['--app', 'beatproj:app', '--python', '/no/such/python3']);
    expect(r.stderr).toBe(
      'beat import celery: python "/no/such/python3" not found; pass --python PATH, the interpreter your project runs Celery with (e.g. .venv/bin/python)\n',
    );
    expect(r.code).toBe(2);
  });

  it.skipIf(!celery.ok)("shows Python's last traceback line when the app does not import, with the fix", async () => {
    const r = await importApp(['--app', 'no_such_project.celery:app', '--python', PYTHON]);
    expect(r.stderr).toBe(
      "beat import celery: cannot import no_such_project.celery:app: ModuleNotFoundError: No module named 'no_such_project'; run beat import from the directory you run celery -A no_such_project.celery:app from, or set PYTHONPATH\n",
    );
    expect(r.code).toBe(2);
    const notApp = await importApp(['--app', 'beatproj:route_by_hand', '--python', PYTHON]);
    expect(notApp.stderr).toBe(
      'beat import celery: beatproj:route_by_hand is a function, not a Celery app; --app names the Celery instance, e.g. proj.celery:app\n',
    );
    expect(notApp.code).toBe(2);
  });

  it('refuses an --app that is not a module path, before running anything', async () => {
    for (const app of ['proj/celery.py', 'proj.celery:app:x', '']) {
      const r = await importApp(['--app', app, '--python', '/no/such/python3']);
      expect(r.stderr, app).toMatch(
        /^beat import celery: --app must name the Celery app as celery -A takes it, a module path and optionally :attribute, e\.g\. --app proj\.celery:app \(got ".*"\)\. See 'beat import celery --help'\.\n$/,
      );
      expect(r.code).toBe(2);
    }
  });
});
