/**
 * `beat import crontab`: a crontab with every feature becomes a config that `beat check` accepts,
 * and whose `beat next` fires are those written here by hand (DST zones through CRON_TZ included);
 * what it cannot express is listed with its line, bad lines stop it with exit 2.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { runCli, spawnCli } from '../support/cli.js';
import { PYTHON, pythonCelery } from '../support/celery.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbeat-import-crontab-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FIXTURES = 'test/fixtures/import';
const ALL = `${FIXTURES}/crontab-all-features`;

interface NextJson {
  entries: { name: string; timezone: string; next: string[] }[];
}

async function importTo(out: string, args: string[]) {
  // --queue is required (the task runs any command: its own queue); the tests about it give their own.
  const r = await runCli(['import', 'crontab', ...args, ...(args.includes('--queue') ? [] : ['--queue', 'cron']), '--out', out]);
  return { ...r, yaml: r.code === 0 ? readFileSync(out, 'utf8') : '' };
}

async function nextFires(config: string, after: string, count: number): Promise<Map<string, string[]>> {
  const r = await runCli(['next', '--config', config, '--json', '--after', after, '--count', String(count)]);
  expect(r.stderr).toBe('');
  const json = JSON.parse(r.stdout) as NextJson;
  return new Map(json.entries.map((e) => [e.name, e.next]));
}

describe('beat import crontab, user format', () => {
  const out = join(dir, 'all.yaml');

  it('imports every job, lists what it cannot carry over with file:line, and beat check accepts the result', async () => {
    const r = await importTo(out, [ALL, '--task', 'cron.run_command', '--queue', 'cron']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const notes = r.stderr.trim().split('\n');
    expect(notes).toEqual([
      expect.stringMatching(new RegExp(`^${ALL}:8: MAILTO: cron mails`)),
      expect.stringMatching(
        new RegExp(`^${ALL}:11: 13 lines \\(11, 12, .*\\) have no CRON_TZ or TZ: .* reads them in UTC; pass --timezone ZONE`),
      ),
      `${ALL}:21: @reboot runs once when cron starts, which is not a schedule: not imported (run it from your service manager instead)`,
      `${ALL}:22: the leading "-" (do not log this job to syslog) has no meaning under tsbeat: every run is logged`,
      `beat import: 17 entries written to ${out}; 4 notes above: what the config does not carry over`,
    ]);
    const check = await runCli(['check', '--config', out]);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
    expect(check.stdout).toContain(`${out}: valid, 17 entries`);
  });

  it('passes the command, the variables in force, and the input after % as the task arguments', async () => {
    const { yaml } = await importTo(out, [ALL, '--task', 'cron.run_command', '--queue', 'cron']);
    const config = (await import('yaml')).parse(yaml) as {
      beatSchedule: Record<
        string,
        { args: string[]; kwargs: Record<string, unknown>; options: unknown; schedule: unknown; timezone?: string }
      >;
    };
    const names = Object.keys(config.beatSchedule);
    // Derived from the commands; the same command twice gets a suffix.
    expect(names).toEqual([
      'sync-feeds-quiet',
      'report-daily',
      'report-daily-2',
      'archive',
      'archive-2',
      'invoice',
      'backup-sh-full',
      'vacuum',
      'vacuum-2',
      'rotate-logs',
      'quiet-job',
      'mail-s-monthly-date-y-m-ops-example-com',
      'nightly-export',
      'poll',
      'morning',
      'noon-berlin',
      'noon-default',
    ]);
    const mail = config.beatSchedule['mail-s-monthly-date-y-m-ops-example-com'];
    expect(mail?.args).toEqual(['mail -s "monthly $(date +%Y-%m)" ops@example.com']);
    expect(mail?.kwargs.input).toBe('Monthly reminder.\nCheck 100% of the backups.\n');
    expect(mail?.kwargs.env).toEqual({
      SHELL: '/bin/bash',
      PATH: '/usr/local/bin:/usr/bin:/bin',
      GREETING: '  hello, world  ',
      'QUOTED NAME': 'single quoted',
      MAILTO: 'ops@example.com',
      EMPTY: '',
    });
    expect(mail?.options).toEqual({ queue: 'cron' });
    expect(config.beatSchedule['sync-feeds-quiet']?.args).toEqual(['/usr/local/bin/sync-feeds --quiet >/dev/null 2>&1']);
    expect(config.beatSchedule['quiet-job']?.schedule).toEqual({ cron: '5 4 * * *' });
    expect(config.beatSchedule.archive?.schedule).toEqual({ cron: '@yearly' });
    expect(config.beatSchedule['nightly-export']?.timezone).toBe('America/New_York');
    expect((config.beatSchedule['nightly-export']?.kwargs.env as Record<string, string>).CRON_TZ).toBe('America/New_York');
    // CRON_TZ wins over TZ while both are set; TZ alone sets the zone once CRON_TZ is cleared.
    expect(config.beatSchedule.morning?.timezone).toBe('America/New_York');
    expect(config.beatSchedule['noon-berlin']?.timezone).toBe('Europe/Berlin');
    expect(config.beatSchedule['noon-default']?.timezone).toBeUndefined();
    expect(config.beatSchedule['sync-feeds-quiet']?.kwargs.user).toBeUndefined();
  });

  it('fires as cron would: Vixie day rule, nicknames, and a New York 02:30 job across the spring-forward gap (hand-written instants)', async () => {
    await importTo(out, [ALL, '--task', 'cron.run_command']);
    const fires = await nextFires(out, '2026-03-07T12:00:00-05:00', 3);
    // The gap of 2026-03-08 (02:00 → 03:00 in New York): a fixed job runs at its end, once.
    expect(fires.get('nightly-export')).toEqual(['2026-03-08T03:00:00-04:00', '2026-03-09T02:30:00-04:00', '2026-03-10T02:30:00-04:00']);
    expect(fires.get('poll')).toEqual(['2026-03-08T01:00:00-05:00', '2026-03-08T01:20:00-05:00', '2026-03-08T01:40:00-05:00']);
    expect(fires.get('morning')).toEqual(['2026-03-09T09:00:00-04:00', '2026-03-10T09:00:00-04:00', '2026-03-11T09:00:00-04:00']);
    expect(fires.get('noon-berlin')).toEqual(['2026-03-08T12:00:00+01:00', '2026-03-09T12:00:00+01:00', '2026-03-10T12:00:00+01:00']);
    // 1st or 15th, or a Friday (cron's OR of the two day fields).
    expect(fires.get('report-daily-2')).toEqual(['2026-03-13T00:00:00+00:00', '2026-03-15T00:00:00+00:00', '2026-03-20T00:00:00+00:00']);
    expect(fires.get('backup-sh-full')).toEqual(['2026-03-08T00:00:00+00:00', '2026-03-15T00:00:00+00:00', '2026-03-22T00:00:00+00:00']);
    expect(fires.get('archive')).toEqual(['2027-01-01T00:00:00+00:00', '2028-01-01T00:00:00+00:00', '2029-01-01T00:00:00+00:00']);
    expect(fires.get('report-daily')).toEqual(['2026-03-09T08:30:00+00:00', '2026-03-10T08:30:00+00:00', '2026-03-11T08:30:00+00:00']);
  });

  it('runs a wildcard job in both passes of the repeated hour when New York falls back (hand-written instants)', async () => {
    await importTo(out, [ALL, '--task', 'cron.run_command']);
    const fires = await nextFires(out, '2026-10-31T12:00:00-04:00', 6);
    expect(fires.get('poll')).toEqual([
      '2026-11-01T01:00:00-04:00',
      '2026-11-01T01:20:00-04:00',
      '2026-11-01T01:40:00-04:00',
      '2026-11-01T01:00:00-05:00',
      '2026-11-01T01:20:00-05:00',
      '2026-11-01T01:40:00-05:00',
    ]);
  });

  it('reads the jobs without CRON_TZ in the --timezone zone, and says nothing about their zone then', async () => {
    const r = await importTo(join(dir, 'berlin.yaml'), [
      ALL,
      '--task',
      'cron.run_command',
      '--timezone',
      'Europe/Berlin',
      '--name-prefix',
      'cron-',
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('no CRON_TZ');
    expect(r.yaml).toContain('\ntimezone: Europe/Berlin\n');
    expect(r.yaml).toContain('\n  cron-noon-berlin:\n');
    const fires = await nextFires(join(dir, 'berlin.yaml'), '2026-03-28T12:00:00+01:00', 2);
    // Berlin springs forward on 2026-03-29 at 02:00; the UTC offset of 00:00 stays +01:00.
    expect(fires.get('cron-backup-sh-full')).toEqual(['2026-03-29T00:00:00+01:00', '2026-04-05T00:00:00+02:00']);
  });
});

describe('examples/cron_tasks.py, the task the imported entries call', () => {
  const celery = pythonCelery();
  it.skipIf(!celery.ok)("runs the command with $SHELL -c, the crontab variables over cron's defaults, and the input after %", () => {
    const call = {
      command: 'printf "%s|%s|%s|" "$GREETING" "$SHELL" "$LOGNAME"; cat',
      kwargs: { env: { GREETING: '  hello  ', SHELL: '/bin/bash' }, input: 'line one\nline two\n' },
    };
    const script = [
      'import json, os, pwd, sys',
      "sys.path.insert(0, 'examples')",
      'from cron_tasks import run_command, CommandFailed',
      'call = json.loads(sys.argv[1])',
      "print(json.dumps([run_command(call['command'], **call['kwargs']), pwd.getpwuid(os.getuid()).pw_name]))",
      'try:',
      "    run_command('exit 3')",
      'except CommandFailed as error:',
      '    print(error)',
      'try:',
      "    run_command('true', user='no-such-user-here')",
      'except PermissionError as error:',
      "    print('refused')",
    ].join('\n');
    const r = spawnSync(PYTHON, ['-c', script, JSON.stringify(call)], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    const [first, failed, refused] = r.stdout.trim().split('\n');
    const [result, user] = JSON.parse(first ?? '') as [{ status: number; output: string }, string];
    expect(result).toEqual({ status: 0, output: `  hello  |/bin/bash|${user}|line one\nline two\n` });
    expect(failed).toBe('exit status 3: ');
    expect(refused).toBe('refused');
  });
});

describe('beat import crontab, /etc/crontab format', () => {
  it('reads the user field with --system and passes it to the task', async () => {
    const out = join(dir, 'etc.yaml');
    const r = await importTo(out, [`${FIXTURES}/etc-crontab`, '--task', 'cron.run_command', '--system', '--timezone', 'UTC']);
    expect(r.stderr).toBe(`beat import: 4 entries written to ${out}\n`);
    const config = (await import('yaml')).parse(r.yaml) as {
      beatSchedule: Record<string, { args: string[]; kwargs: { user: string }; schedule: unknown }>;
    };
    expect(Object.entries(config.beatSchedule).map(([name, e]) => [name, e.schedule, e.kwargs.user, e.args[0]])).toEqual([
      ['cd-run-parts-report-cron-hourly', { cron: '17 * * * *' }, 'root', 'cd / && run-parts --report /etc/cron.hourly'],
      [
        'test-x-anacron-cd-run-parts-report-cron-daily',
        { cron: '25 6 * * *' },
        'root',
        'test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }',
      ],
      [
        'test-x-anacron-cd-run-parts-report-cron-weekly',
        { cron: '47 6 * * 7' },
        'root',
        'test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.weekly; }',
      ],
      ['php-cron-php', { cron: '52 6 1 * *' }, 'www-data', '/usr/bin/php /var/www/cron.php'],
    ]);
    expect((await runCli(['check', '--config', out])).code).toBe(0);
  });

  it('without --system, refuses a file in that format (exit 2, naming --system), rather than run commands called "root"', async () => {
    const etc = `${FIXTURES}/etc-crontab`;
    const r = await runCli(['import', 'crontab', etc, '--task', 'cron.run_command', '--queue', 'cron', '--timezone', 'UTC']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `beat import crontab: "${etc}" looks like a system crontab (the /etc/crontab format, a user before each command): every job's command starts with a user name (root, www-data); pass --system to read that field as the user, or remove it from the lines\n`,
    );
    expect(r.code).toBe(2);
  });

  it('a user crontab whose one command is named like a user (a script called backup) is imported, with a note for root', async () => {
    const one = join(dir, 'one-backup');
    writeFileSync(one, '0 2 * * * backup --all\n');
    const r = await runCli(['import', 'crontab', one, '--task', 't', '--queue', 'cron', '--timezone', 'UTC']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('- backup --all\n');
    const mixed = join(dir, 'mixed');
    writeFileSync(mixed, '0 2 * * * root-cause-report\n5 2 * * * root /usr/bin/x\n');
    const noted = await runCli(['import', 'crontab', mixed, '--task', 't', '--queue', 'cron', '--timezone', 'UTC']);
    expect(noted.code).toBe(0);
    expect(noted.stderr).toContain(
      `${mixed}:2: the command starts with "root": a system crontab (/etc/crontab format, with a user field)? pass --system\n`,
    );
  });
});

describe('beat import crontab on bad input', () => {
  it('lists every bad line as file:line with the fix, writes nothing and exits 2', async () => {
    const out = join(dir, 'never.yaml');
    const r = await runCli(['import', 'crontab', `${FIXTURES}/crontab-bad`, '--task', 'cron.run_command', '--queue', 'cron', '--out', out]);
    const bad = `${FIXTURES}/crontab-bad`;
    expect(r.stderr).toBe(
      [
        `${bad}:2: hour field "25": 25 is out of range 0-23; fix the time fields (see docs/schedules.md, form \`cron\`)`,
        `${bad}:3: CRON_TZ="Mars/Olympus" is not a time zone tsbeat knows; use an IANA name such as "Europe/Berlin" or "UTC"`,
        `${bad}:4: no command after the time fields (a system crontab? pass --system)`,
        `${bad}:5: the command starts with "*": a sixth time field? A crontab line has five (minute hour day-of-month month day-of-week)`,
        `${bad}:6: expected five time fields (minute hour day-of-month month day-of-week) or an @nickname, then a command`,
        `${bad}:7: can never run: February has no day 30; fix the time fields (see docs/schedules.md, form \`cron\`)`,
        `beat import crontab: 6 bad lines in ${bad}; nothing written`,
        '',
      ].join('\n'),
    );
    expect(r.code).toBe(2);
    expect(() => readFileSync(out)).toThrow();
  });

  it('names a missing file and the way to make one, exit 2 (the built binary)', () => {
    const r = spawnCli(['import', 'crontab', 'no-such-crontab', '--task', 'cron.run_command', '--queue', 'cron']);
    expect(r.stderr).toBe(
      'beat import crontab: cannot read "no-such-crontab": no such file; check the path (crontab -l > FILE saves a user\'s crontab)\n',
    );
    expect(r.code).toBe(2);
  });

  it('refuses a missing --task, a bad --timezone and an unknown source with exit 2 and the fix', async () => {
    const noTask = await runCli(['import', 'crontab', ALL]);
    expect(noTask.stderr).toBe(
      "beat import crontab: --task must name the Celery task that runs a command, e.g. --task cron.run_command (see examples/cron_tasks.py). See 'beat import crontab --help'.\n",
    );
    expect(noTask.code).toBe(2);
    const zone = await runCli(['import', 'crontab', ALL, '--task', 't', '--queue', 'cron', '--timezone', 'Berlin']);
    const noQueue = await runCli(['import', 'crontab', ALL, '--task', 't']);
    expect(noQueue.stderr).toBe(
      "beat import crontab: give the task that runs commands its own queue, consumed only by the workers meant to run them: --queue NAME (e.g. --queue cron), or --queue celery to use the default queue knowingly. See 'beat import crontab --help'.\n",
    );
    expect(noQueue.code).toBe(2);
    expect(zone.stderr).toContain('--timezone "Berlin" is not a time zone; use an IANA name such as "Europe/Berlin"');
    expect(zone.code).toBe(2);
    const source = await runCli(['import', 'anacron']);
    expect(source.stderr).toContain('beat import: unknown source "anacron"');
    expect(source.code).toBe(2);
  });

  it('shows its help, and beat --help lists the command', async () => {
    const help = await runCli(['import', 'crontab', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: beat import crontab FILE --task NAME');
    expect((await runCli(['import', '--help'])).stdout).toContain('crontab FILE --task NAME');
    expect((await runCli(['--help'])).stdout).toMatch(/\n {2}import +write a config from a crontab file/);
  });
});
