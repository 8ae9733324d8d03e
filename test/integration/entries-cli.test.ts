/**
 * `beat entries` and `beat import … --into-store` against a private redis-server: what they write
 * is read back from Redis itself (the raw records of the entries hash), bad input through every path
 * exits 2 naming every problem and writes nothing, an unreachable Redis exits 1, and an export is a
 * config `beat check` accepts and `import` takes back.
 *
 * Most commands run through the CLI's own `main` in this process (its exit code, stdout and stderr
 * are what the built binary prints: dist/cli.js only hands the code to the process); starting ~60
 * node processes cost this file ~40 s. What depends on the process runs as a real `node
 * dist/cli.js` (`spawned`): the code a process exits with (0, 1 and 2), and that an unreachable
 * Redis does not keep it alive.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { parse as loadYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schedulerKeys } from '../../src/redis/keys.js';
import { TempDir } from '../support/beat-process.js';
import { closedRedisPort, killCliChildren, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import { PYTHON, pythonCelery } from '../support/celery.js';
import { repoRoot, runCli, spawnCli } from '../support/cli.js';
import type { CliResult } from '../support/cli.js';
import type { CliRun } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'tsbeat_test.record';
const celery = pythonCelery();

describe('beat entries (real CLI processes, private Redis)', () => {
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
  });

  afterAll(async () => {
    killCliChildren();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  /** A deployment of its own: a config file with one file entry, `nightly`, in Europe/Berlin. */
  function deployment(prefix: string, url = server.url(0), zone = 'Europe/Berlin') {
    const name = uniqueName(prefix);
    const file = dir.write(
      `${name}.yaml`,
      [
        `name: ${name}`,
        `timezone: ${zone}`,
        `broker: { url: "${url}" }`,
        'beatSchedule:',
        `  nightly: { task: ${TASK}, schedule: { cron: "0 3 * * *" } }`,
        '',
      ].join('\n'),
    );
    const keys = schedulerKeys('tsbeat', name);
    /** In-process: the CLI's main, with the environment and clock a process would have. */
    const beat = (...args: string[]): Promise<CliResult> =>
      runCli([...args, '--config', file], { env: { PATH: process.env['PATH'] ?? '' }, now: Date.now() });
    /** A real `node dist/cli.js` process, for what depends on the process (its exit code, that it exits). */
    const spawned = (...args: string[]): Promise<CliRun> => runBeatCli([...args, '--config', file]);
    /** The entries as stored in Redis: name → the `entry` of its record. */
    const stored = async (): Promise<Record<string, unknown>> =>
      Object.fromEntries(
        Object.entries(await redis.hgetall(keys.entries)).map(([k, v]) => [k, (JSON.parse(v) as { entry: unknown }).entry]),
      );
    return { name, file, keys, beat, spawned, stored };
  }

  it('set creates, changes only the keys given, --replace rewrites; get prints YAML that set --file takes back; list shows it in words', async () => {
    const d = deployment('ent-set');
    const created = await d.spawned(
      'entries',
      'set',
      'report',
      '--task',
      TASK,
      '--schedule',
      '*/15 * * * *',
      '--kwargs',
      '{"to":"ops"}',
      '--options',
      '{"queue":"reports"}',
    );
    expect(created).toMatchObject({ code: 0, stderr: '', stdout: 'created report (store version 1)\n' });
    expect(await d.stored()).toEqual({
      report: { task: TASK, schedule: { cron: '*/15 * * * *' }, kwargs: { to: 'ops' }, options: { queue: 'reports' } },
    });

    expect(await d.beat('entries', 'set', 'report', '--enabled', 'false')).toMatchObject({
      code: 0,
      stdout: 'updated report (store version 2)\n',
    });
    expect((await d.stored())['report']).toEqual({
      task: TASK,
      schedule: { cron: '*/15 * * * *' },
      kwargs: { to: 'ops' },
      options: { queue: 'reports' },
      enabled: false,
    });
    expect(await d.beat('entries', 'set', 'report', '--enabled', 'false')).toMatchObject({
      code: 0,
      stdout: 'unchanged report (the same definition was stored)\n',
    });

    const list = await d.beat('entries', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^NAME\s+TASK\s+SCHEDULE\s+TIMEZONE\s+ENABLED\s+UPDATED\s+OWNER$/);
    expect(list.stdout.split('\n')[1]).toMatch(
      // UPDATED relative to now on a terminal (--wide: ISO 8601).
      new RegExp(`^report\\s+${TASK.replace('.', '\\.')}\\s+every 15 minutes\\s+Europe/Berlin\\s+no\\s+(now|\\d+ [smhd] ago)\\s`),
    );
    const json = JSON.parse((await d.beat('entries', 'list', '--json')).stdout) as {
      name: string;
      version: number;
      enabled: boolean;
      schedule: string;
    }[];
    expect(json).toMatchObject([{ name: 'report', version: 2, enabled: false, schedule: 'every 15 minutes' }]);

    const got = await d.beat('entries', 'get', 'report');
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(/^# runtime entry of deployment \S+: version 2, created \S+, updated \S+\n/);
    expect(loadYaml(got.stdout)).toEqual({ report: (await d.stored())['report'] });
    expect(JSON.parse((await d.beat('entries', 'get', 'report', '--json')).stdout)).toMatchObject({
      name: 'report',
      version: 2,
      entry: { enabled: false },
    });

    // get → edit → set --file: the file under its name, or the entry alone with NAME given.
    const edited = dir.write(`${d.name}-edit.yaml`, got.stdout.replace('enabled: false', 'enabled: true'));
    expect(await d.beat('entries', 'set', '--file', edited)).toMatchObject({ code: 0, stdout: 'updated report (store version 3)\n' });
    expect((await d.stored())['report']).toMatchObject({ enabled: true });
    const alone = dir.write(`${d.name}-alone.json`, { task: TASK, schedule: 60 });
    expect(await d.beat('entries', 'set', 'other', '--file', alone)).toMatchObject({
      code: 0,
      stdout: 'created other (store version 4)\n',
    });

    // The entry limits: the config file's startAt, endAt, exclude, pauseOnFailure, retry, deadLetter, maxRuns, oneOff.
    expect(
      await d.beat('entries', 'set', 'other', '--start-at', '2030-01-01T00:00:00Z', '--end-at', '2031-01-01T00:00:00Z', '--max-runs', '3'),
    ).toMatchObject({ code: 0 });
    expect((await d.stored())['other']).toEqual({
      task: TASK,
      schedule: 60,
      startAt: '2030-01-01T00:00:00Z',
      endAt: '2031-01-01T00:00:00Z',
      maxRuns: 3,
    });
    const limits = await d.beat('entries', 'set', 'other', '--max-runs', '0', '--one-off', 'yes');
    expect(limits.code).toBe(2);
    expect(limits.stderr).toContain('maxRuns (--max-runs): maxRuns must be a whole number of at least 1');
    expect(limits.stderr).toContain('--one-off: expected true or false, got "yes"');

    expect(await d.beat('entries', 'set', 'report', '--replace', '--task', TASK, '--schedule', '90')).toMatchObject({ code: 0 });
    expect((await d.stored())['report']).toEqual({ task: TASK, schedule: 90 });
  });

  it('--chain sets a canvas (replacing a stored task), --link-error its callbacks; a bad step is named by its path', async () => {
    const d = deployment('ent-chain');
    expect(await d.beat('entries', 'set', 'flow', '--task', TASK, '--schedule', '60')).toMatchObject({ code: 0 });
    const chain = [{ task: TASK, args: [1] }, { chord: { header: [{ task: TASK }], body: { task: TASK } } }];
    const set = await d.beat('entries', 'set', 'flow', '--chain', JSON.stringify(chain), '--link-error', `[{"task": "${TASK}"}]`);
    expect(set).toMatchObject({ code: 2 });
    expect(set.stderr).toContain("linkError (--link-error): an entry's linkError cannot go with a chain that holds a group or chord");
    expect(await d.beat('entries', 'set', 'flow', '--chain', JSON.stringify(chain))).toMatchObject({ code: 0 });
    expect((await d.stored())['flow']).toEqual({ schedule: 60, chain });
    const bad = await d.beat('entries', 'set', 'flow', '--chain', JSON.stringify([{ task: TASK }, { args: [] }]));
    expect(bad).toMatchObject({ code: 2 });
    expect(bad.stderr).toContain('chain[1].task (--chain): task is required');
  });

  it('--schedule takes every form a config file does', async () => {
    const d = deployment('ent-forms');
    const forms: [string, unknown][] = [
      ['30', 30],
      ['0.5', 0.5],
      ['5m', 300],
      ['1h30m', 5400],
      ['0 9 * * 1-5', { cron: '0 9 * * 1-5' }],
      ['@daily', { cron: '@daily' }],
      ['2030-01-01T09:00:00+01:00', { clocked: '2030-01-01T09:00:00+01:00' }],
      ['FREQ=WEEKLY;BYDAY=MO;BYHOUR=9', { rrule: 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=9' }],
      ['{"crontab": {"minute": 0, "hour": "*/3"}}', { crontab: { minute: 0, hour: '*/3' } }],
      ['{timedelta: {hours: 1}}', { timedelta: { hours: 1 } }],
      ['solar: {event: sunrise, lat: 52.5, lon: 13.4}', { solar: { event: 'sunrise', lat: 52.5, lon: 13.4 } }],
    ];
    for (const [i, [text]] of forms.entries()) {
      const r = await d.beat('entries', 'set', `f${i}`, '--task', TASK, '--schedule', text);
      expect(r, text).toMatchObject({ code: 0, stderr: '' });
    }
    const stored = await d.stored();
    for (const [i, [text, want]] of forms.entries()) expect(stored[`f${i}`], text).toEqual({ task: TASK, schedule: want });
  });

  it('bad input exits 2 naming every problem (flags, schedule, unknown keys, the file entry names) and writes nothing', async () => {
    const d = deployment('ent-bad');
    expect(await d.beat('entries', 'set', 'keep', '--task', TASK, '--schedule', '60')).toMatchObject({ code: 0 });
    const before = await redis.hgetall(d.keys.entries);
    const version = await redis.get(d.keys.entriesVersion);

    const many = await d.spawned(
      'entries',
      'set',
      'x',
      '--task',
      'has space',
      '--schedule',
      '{crontab: {hour: 25}}',
      '--args',
      '[1,',
      '--options',
      '{"queu": "a"}',
      '--catch-up',
      'never',
      '--enabled',
      'maybe',
    );
    expect(many.code).toBe(2);
    expect(many.stdout).toBe('');
    expect(many.stderr).toMatch(/^beat entries set x: 6 problems\n/);
    for (const line of [
      '  --args: not JSON',
      '  --enabled: expected true or false, got "maybe"',
      '  task (--task): a task name has no spaces',
      '  schedule.crontab.hour (--schedule): 25 is out of range 0-23',
      '  options.queu (--options): unknown key "queu"; did you mean "queue"?',
      '  catchUp (--catch-up): catchUp must be one of once, skip, all',
    ])
      expect(many.stderr).toContain(line);

    const cases: [string[], string][] = [
      [['entries', 'set', 'y', '--task', TASK], 'schedule (--schedule): schedule is required'],
      [['entries', 'set', 'y', '--task', TASK, '--schedule', 'every day'], '--schedule: "every day" is not a schedule'],
      [['entries', 'set', 'y', '--task', TASK, '--schedule', '61 * * * *'], 'schedule.cron (--schedule): minute field "61"'],
      [['entries', 'set', 'y', '--task', TASK, '--schedule', '60', '--kwargs', '[1]'], '--kwargs: expected a JSON object'],
      [
        ['entries', 'set', 'nightly', '--task', TASK, '--schedule', '60'],
        'nightly: the config file (beatSchedule) defines an entry of this name',
      ],
      [
        ['entries', 'set', 'y', '--task', TASK, '--schedule', 'FREQ=SECONDLY;COUNT=1000000;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO'],
        'schedule (--schedule): computing the next runs of rrule RRULE:FREQ=SECONDLY;COUNT=1000000;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO in Europe/Berlin took more than 25,000 steps (scheduleStepBudget)',
      ],
      [
        [
          'entries',
          'import',
          dir.write(`${d.name}-covered.yaml`, `covered:\n  task: ${TASK}\n  schedule: 86400\n  exclude: ["* * * * *"]\n`),
        ],
        'covered.exclude (line 4): its exclusions leave the schedule (almost) no slot',
      ],
      [['entries', 'set', 'y'], 'nothing to set'],
      [['entries', 'set', '--task', TASK], 'which entry?'],
      [['entries', 'set', 'y', '--file', dir.write(`${d.name}-f.yaml`, 'task: x'), '--task', 'x'], '--file holds the whole entry'],
      [['entries', 'set', '--file', `${dir.path}/missing.yaml`], 'cannot read'],
      [['entries', 'get', 'nope'], 'no runtime entry named "nope"'],
      [['entries', 'get', 'nightly'], '"nightly" is an entry of the config file, not a runtime entry'],
      [['entries', 'delete', 'keep', 'nope'], 'no runtime entry named "nope"'],
      [['entries', 'delete', 'nightly'], '"nightly" is an entry of the config file, not a runtime entry'],
      [['entries', 'frob'], 'unknown command "frob"'],
      [['entries', 'list', '--jsn'], "Unknown option '--jsn'"],
    ];
    for (const [argv, text] of cases) {
      const r = await d.beat(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toContain(text);
      expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
    }
    // set --file: each problem on its line, at the file's own paths.
    const alone = await d.beat(
      'entries',
      'set',
      'y',
      '--file',
      dir.write(`${d.name}-alone.yaml`, '# y\ntask: a.b\nschedule:\n  cron: "61 * * * *"\nargz: []\n'),
    );
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(
      /: 2 problems\n {2}schedule\.cron \(line 4\): minute field "61".*\n {2}argz \(line 5\): unknown key "argz"; did you mean "args"\?\n$/,
    );
    const named = await d.beat('entries', 'set', '--file', dir.write(`${d.name}-named.yaml`, 'y:\n  task: a.b\n  schedule: 0.001\n'));
    expect(named.code).toBe(2);
    expect(named.stderr).toContain('y.schedule (line 3): an interval must be between 0.1 s and 100 years');
    const two = await d.beat(
      'entries',
      'set',
      '--file',
      dir.write(`${d.name}-two.yaml`, 'a: {task: x, schedule: 1}\nb: {task: x, schedule: 1}\n'),
    );
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('found 2 names; for several entries use beat entries import');

    expect(await redis.hgetall(d.keys.entries)).toEqual(before);
    expect(await redis.get(d.keys.entriesVersion)).toBe(version);
  });

  it('a YAML file with mistakes is refused with each problem on its line, all or nothing; a JSON file and a config file import', async () => {
    const d = deployment('ent-import');
    const bad = dir.write(
      `${d.name}-bad.yaml`,
      [
        'good:', //                      1
        `  task: ${TASK}`, //            2
        '  schedule: 60', //             3
        'bad:', //                       4
        '  task: a b', //                5
        '  schedule:', //                6
        '    cron: "61 * * * *"', //     7
        '  optons: {}', //               8
        'nightly:', //                   9
        `  task: ${TASK}`, //            10
        '  schedule: 5', //              11
        '',
      ].join('\n'),
    );
    const r = await d.beat('entries', 'import', bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      [
        `${bad}: 4 problems`,
        '  bad.task (line 5): a task name has no spaces',
        '  bad.schedule.cron (line 7): minute field "61": 61 is out of range 0-59',
        '  bad.optons (line 8): unknown key "optons"; did you mean "options"?',
        // A name is placed where its entry starts, as beat check places a bad name in beatSchedule.
        '  nightly (line 10): the config file (beatSchedule) defines an entry of this name, and a runtime entry may not take it: choose another name, or remove it from the file first',
        '',
      ].join('\n'),
    );
    expect(await redis.hlen(d.keys.entries)).toBe(0);

    const syntax = await d.beat('entries', 'import', dir.write(`${d.name}-syntax.yaml`, 'a:\n  task: x\n b: [\n'));
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toMatch(/\(line \d\): YAML syntax/);
    const missing = await d.beat('entries', 'import', `${dir.path}/nope.yaml`);
    expect(missing).toMatchObject({ code: 2 });
    expect(missing.stderr).toContain('beat entries import: cannot read');
    const badJson = await d.beat('entries', 'import', dir.write(`${d.name}.json`, '{"a": '));
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain('JSON syntax');

    const json = dir.write(`${d.name}-ok.json`, { a: { task: TASK, schedule: 60 }, b: { task: TASK, schedule: { cron: '0 * * * *' } } });
    expect(await d.beat('entries', 'import', json)).toMatchObject({ code: 0, stdout: expect.stringContaining('2 created') });
    // A config file: its beatSchedule, its zone given to the entries that name none; its other settings listed.
    const config = dir.write(
      `${d.name}-config.yaml`,
      [
        'timezone: America/New_York',
        'taskDefaultQueue: other',
        'beatSchedule:',
        `  c: { task: ${TASK}, schedule: { cron: "0 9 * * *" } }`,
        `  d: { task: ${TASK}, schedule: 60, timezone: UTC }`,
        '',
      ].join('\n'),
    );
    const imported = await d.beat('entries', 'import', config);
    expect(imported).toMatchObject({ code: 0, stdout: expect.stringContaining('2 created') });
    expect(imported.stderr).toContain('not imported: taskDefaultQueue');
    const stored = await d.stored();
    expect(stored['c']).toEqual({ task: TASK, schedule: { cron: '0 9 * * *' }, timezone: 'America/New_York' });
    expect(stored['d']).toEqual({ task: TASK, schedule: 60, timezone: 'UTC' });

    // --prune: the store becomes the file.
    expect(await d.beat('entries', 'import', json, '--prune')).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('2 unchanged, 2 deleted'),
    });
    expect(Object.keys(await d.stored()).sort()).toEqual(['a', 'b']);
  });

  it('export is a config beat check accepts, and importing it into another deployment gives the same store', async () => {
    const from = deployment('ent-export');
    const file = dir.write(
      `${from.name}-seed.yaml`,
      [
        `hourly: { task: ${TASK}, schedule: { crontab: { minute: 5 } }, args: [1, "two"], kwargs: { k: [true, null] } }`,
        `every: { task: ${TASK}, schedule: 2.5, options: { queue: q, priority: 3 }, catch_up: skip }`,
        `solar: { task: ${TASK}, schedule: { solar: { event: sunset, lat: 52.5, lon: 13.4 } }, timezone: Asia/Tokyo, enabled: false }`,
        `rule: { task: ${TASK}, schedule: { rrule: { freq: monthly, byweekday: -1FR, byhour: 17 } }, jitter: 10s }`,
        '',
      ].join('\n'),
    );
    expect(await from.beat('entries', 'import', file)).toMatchObject({ code: 0 });
    const out = `${dir.path}/${from.name}-export.yaml`;
    const exported = await from.beat('entries', 'export', '--output', out);
    expect(exported).toMatchObject({ code: 0, stdout: '' });
    expect(exported.stderr).toContain('4 entries written to');
    const check = await runBeatCli(['check', '--config', out]);
    expect(check).toMatchObject({ code: 0, stderr: '' });
    expect(check.stdout).toContain('valid, 4 entries');
    const toStdout = await from.beat('entries', 'export');
    expect((loadYaml(toStdout.stdout) as { beatSchedule: unknown }).beatSchedule).toEqual(await from.stored());

    const to = deployment('ent-export-to');
    expect(await to.beat('entries', 'import', out)).toMatchObject({ code: 0, stdout: expect.stringContaining('4 created') });
    expect(await to.stored()).toEqual(await from.stored());
  });

  it('delete removes several in one write, drops their state unless --keep-history, --missing-ok skips absent names', async () => {
    const d = deployment('ent-delete');
    for (const n of ['a', 'b', 'c'])
      expect(await d.beat('entries', 'set', n, '--task', TASK, '--schedule', '60')).toMatchObject({ code: 0 });
    await redis.hset(d.keys.state, 'a', '{"n":3,"slot":1}', 'c', '{"n":1,"slot":1}');
    expect(await d.beat('entries', 'delete', 'a', 'b')).toMatchObject({ code: 0, stdout: 'deleted a\ndeleted b\n' });
    expect(Object.keys(await d.stored())).toEqual(['c']);
    expect(await redis.hexists(d.keys.state, 'a')).toBe(0);
    expect(await d.beat('entries', 'delete', 'c', 'gone', '--keep-history', '--missing-ok')).toMatchObject({
      code: 0,
      stdout: 'deleted c\ngone was not in the store\n',
    });
    expect(await redis.hget(d.keys.state, 'c')).toBe('{"n":1,"slot":1}');
    expect(await redis.hlen(d.keys.entries)).toBe(0);
  });

  it('an unreachable Redis exits 1 with a clear message; bad flags are still named first (exit 2)', async () => {
    const port = await closedRedisPort();
    const d = deployment('ent-down', `redis://127.0.0.1:${port}/0`);
    for (const argv of [
      ['entries', 'list'],
      ['entries', 'set', 'x', '--task', TASK, '--schedule', '60'],
      ['entries', 'export'],
    ]) {
      const r = await d.spawned(...argv);
      expect(r.code, argv.join(' ')).toBe(1);
      expect(r.stderr).toContain(`cannot reach Redis at redis://127.0.0.1:${port}/0`);
    }
    const bad = await d.spawned('entries', 'set', 'x', '--task', TASK, '--schedule', '61 * * * *');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('schedule.cron (--schedule)');
  });

  it('import crontab --into-store writes the same entries the YAML import does, all or nothing', async () => {
    const d = deployment('ent-cron');
    const crontab = dir.write(
      `${d.name}.crontab`,
      ['CRON_TZ=America/New_York', '*/5 * * * * /usr/bin/backup.sh --full', '0 4 * * * /usr/local/bin/clean', ''].join('\n'),
    );
    const asYaml = await runBeatCli([
      'import',
      'crontab',
      crontab,
      '--task',
      'cron.run_command',
      '--queue',
      'cron',
      '--timezone',
      'Europe/Berlin',
    ]);
    expect(asYaml.code).toBe(0);
    const r = await d.beat(
      'import',
      'crontab',
      crontab,
      '--task',
      'cron.run_command',
      '--queue',
      'cron',
      '--timezone',
      'Europe/Berlin',
      '--into-store',
    );
    expect(r).toMatchObject({ code: 0, stdout: expect.stringContaining('2 created') });
    expect(await d.stored()).toEqual((loadYaml(asYaml.stdout) as { beatSchedule: unknown }).beatSchedule);

    // A second crontab naming a file entry: refused whole.
    const clash = dir.write(`${d.name}-clash.crontab`, ['0 1 * * * /bin/new-job', '0 2 * * * /bin/nightly', ''].join('\n'));
    const refused = await d.beat('import', 'crontab', clash, '--task', 'cron.run_command', '--queue', 'cron', '--into-store');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('nightly: the config file (beatSchedule) defines an entry of this name');
    expect(Object.keys(await d.stored()).sort()).toEqual(['backup-sh-full', 'clean']);
    const both = await d.beat('import', 'crontab', crontab, '--task', 'x', '--queue', 'cron', '--into-store', '--out', 'x.yaml');
    expect(both.code).toBe(2);
  });

  it.skipIf(!celery.ok)(
    'import celery --into-store writes the entries the YAML import writes, in the zone of the app when the deployment has another',
    async () => {
      const d = deployment('ent-celery', server.url(0), 'UTC');
      const project = join(repoRoot, 'test/fixtures/import/celery_proj');
      const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
      const app = ['import', 'celery', '--app', 'beatproj:app', '--python', PYTHON];
      const asYaml = spawnCli(app, { cwd: project, env });
      expect(asYaml.code, asYaml.stderr).toBe(0);
      const into = spawnCli([...app, '--into-store', '--config', d.file], { cwd: project, env });
      expect(into.code, into.stderr).toBe(0);
      expect(into.stderr).toContain('settings the runtime store does not hold');
      const config = loadYaml(asYaml.stdout) as { timezone: string; beatSchedule: Record<string, Record<string, unknown>> };
      expect(config.timezone).toBe('Europe/Berlin');
      const expected = Object.fromEntries(
        Object.entries(config.beatSchedule).map(([name, entry]) => [
          name,
          'timezone' in entry ? entry : { ...entry, timezone: config.timezone },
        ]),
      );
      expect(Object.keys(expected).length).toBeGreaterThan(3);
      expect(await d.stored()).toEqual(expected);
    },
  );

  it('status lists runtime entries with their origin and those that do not run with their problems; pause takes a runtime name', async () => {
    const d = deployment('ent-status');
    expect(await d.beat('entries', 'set', 'dyn', '--task', TASK, '--schedule', '60')).toMatchObject({ code: 0 });
    await redis.hset(d.keys.entries, 'hand-written', '{"task":"x"}');
    await redis.hset(d.keys.entries, 'nightly', `{"v":1,"created":1,"updated":1,"entry":{"task":"${TASK}","schedule":60}}`);
    const table = await d.beat('status', '--wide');
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines.find((l) => l.startsWith('NAME'))).toMatch(/\sORIGIN$/);
    // With task events read by default the outcome columns (none yet: "-") stand between STATE and ORIGIN.
    expect(lines.find((l) => l.startsWith('nightly '))).toMatch(/\sactive(\s+-)*\s+file$/);
    expect(lines.find((l) => l.startsWith('dyn '))).toMatch(
      new RegExp(`^dyn\\s+${TASK.replace('.', '\\.')}\\s+every 1m\\s+-\\s+\\S+\\s+0\\s+active(\\s+-)*\\s+store$`),
    );
    expect(table.stdout).toContain('2 runtime entries do not run:\n  hand-written (store): the stored value is not a tsbeat entry record');
    expect(table.stdout).toContain('  nightly (store): name: the name is taken by a config-file entry');
    const json = JSON.parse((await d.beat('status', '--json')).stdout) as {
      entries: { name: string; origin: string }[];
      entryProblems: { name: string }[];
    };
    expect(json.entries.map((e) => [e.name, e.origin])).toEqual([
      ['nightly', 'file'],
      ['dyn', 'store'],
    ]);
    expect(json.entryProblems.map((p) => p.name)).toEqual(['hand-written', 'nightly']);

    expect(await d.beat('pause', 'dyn')).toMatchObject({ code: 0, stdout: 'paused dyn\n' });
    expect(await redis.sismember(d.keys.paused, 'dyn')).toBe(1);
    const refused = await d.beat('pause', 'hand-written');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('the store entry "hand-written" does not run');
    expect((await d.beat('resume', 'dnn')).stderr).toContain(
      'no entry named "dnn" in the config or the runtime store; did you mean "dyn"?',
    );
  });
});
