/** The crontab line reader of `beat import crontab`, against crontab(5) and cronie's parser (src/env.c, src/do_command.c). */
import { describe, expect, it } from 'vitest';
import { parseCrontab, parseEnvLine, splitPercent } from '../../src/importers/crontab-lines.js';
import { UniqueNames, slugFromCommand } from '../../src/importers/entry-names.js';

describe('NAME=value lines, as cronie load_env reads them', () => {
  it.each([
    ['A=b', { name: 'A', value: 'b' }],
    ['A = b c  ', { name: 'A', value: 'b c' }],
    ['A="  spaced  "', { name: 'A', value: '  spaced  ' }],
    ["A='x=y'   ", { name: 'A', value: 'x=y' }],
    ['"A B"=c', { name: 'A B', value: 'c' }],
    ['A=', { name: 'A', value: '' }],
    ['A=""', { name: 'A', value: '' }],
  ])('%s is an assignment', (line, expected) => {
    expect(parseEnvLine(line)).toEqual(expected);
  });

  it.each(['*/5 * * * * A=b', '@daily A=b', 'A="unclosed', 'A="x" trailing', 'A', '"A=B"=c'])('%s is not an assignment', (line) => {
    expect(parseEnvLine(line)).toBeUndefined();
  });
});

describe('% in commands, as cron do_command.c splits them', () => {
  it('ends the command at the first unescaped %, the rest is input with % as newline and a final newline', () => {
    expect(splitPercent('cat%a%b')).toEqual({ command: 'cat', input: 'a\nb\n' });
    expect(splitPercent('cat%a%')).toEqual({ command: 'cat', input: 'a\n' });
  });
  it('turns \\% into % in both parts and keeps other backslashes', () => {
    expect(splitPercent('date +\\%Y \\n%50\\% \\x')).toEqual({ command: 'date +%Y \\n', input: '50% \\x\n' });
  });
  it('has no input for a command without %, or with nothing after it', () => {
    expect(splitPercent('echo hi')).toEqual({ command: 'echo hi' });
    expect(splitPercent('echo hi%')).toEqual({ command: 'echo hi' });
  });
  it('reads \\\\% as a backslash pair then a separating %', () => {
    expect(splitPercent('a\\\\%b')).toEqual({ command: 'a\\\\', input: 'b\n' });
  });
});

describe('job lines', () => {
  it('keeps the variables and the zone in force at each job, CRON_TZ over TZ', () => {
    const parsed = parseCrontab(
      ['A=1', 'TZ=Europe/Berlin', '0 1 * * * one', 'CRON_TZ=Asia/Tokyo', 'A=2', '0 2 * * * two', 'CRON_TZ=', '0 3 * * * three'].join('\n'),
      false,
    );
    expect(parsed.problems).toEqual([]);
    expect(parsed.jobs.map((j) => [j.line, j.command, j.zone, j.env.A])).toEqual([
      [3, 'one', 'Europe/Berlin', '1'],
      [6, 'two', 'Asia/Tokyo', '2'],
      [8, 'three', 'Europe/Berlin', '2'],
    ]);
  });
  it('reads CRLF line ends, tabs between fields, and leading blanks', () => {
    const parsed = parseCrontab('\t0\t1 * *\t*   run it \r\n', false);
    expect(parsed.jobs).toEqual([{ line: 1, schedule: '0 1 * * *', command: 'run it ', env: {} }]);
  });
  it('lists @reboot with its line and imports nothing for it', () => {
    const parsed = parseCrontab('@reboot start\n@REBOOT start', false);
    expect(parsed.jobs).toEqual([]);
    expect(parsed.notes.map((n) => n.line)).toEqual([1, 2]);
  });
  it('refuses a nickname tsbeat does not know, and a system line without a command', () => {
    expect(parseCrontab('@fortnightly x', false).problems[0]?.message).toMatch(/^unknown nickname "@fortnightly"; use one of @yearly/);
    expect(parseCrontab('0 0 * * * root', true).problems[0]?.message).toMatch(/^no command after the user/);
  });
});

describe('entry names from commands', () => {
  it.each([
    ['/usr/local/bin/backup.sh --full >/dev/null 2>&1', 'backup-sh-full'],
    ['cd / && run-parts --report /etc/cron.daily', 'cd-run-parts-report-cron-daily'],
    ['  ', 'job'],
    ['python3 -m app.tasks.refresh --all-customers --include-archived-records --verbose', 'python3-m-app-tasks-refresh-all-customers'],
  ])('%s → %s', (command, slug) => {
    expect(slugFromCommand(command)).toBe(slug);
    expect(slug.length).toBeLessThanOrEqual(48);
  });
  it('suffixes repeats in order, never reusing a name already given', () => {
    const names = new UniqueNames('p-');
    expect(['a', 'a', 'a-2', 'a'].map((b) => names.next(b))).toEqual(['p-a', 'p-a-2', 'p-a-2-2', 'p-a-3']);
  });
});
